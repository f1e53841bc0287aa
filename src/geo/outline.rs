//! Outlines across borders that the topology does not share.
//!
//! [`Layer::dissolve`] removes a border only where both sides use the same arc. Some
//! files are stitched together from separately made parts, and there the parts'
//! common borders are two different lines a few metres apart: Germany's 16 state files
//! (in `de.topo.json`, and in its region and district files), Bosnia's entities. Their
//! dissolve leaves each part's outline, which a stroked country shape cannot use.
//!
//! [`Layer::outline`] goes one step further: after the topological dissolve it drops
//! the stretches of boundary that run within a tolerance of another part's boundary
//! and joins the remaining pieces at the nearest loose ends. The result has its own
//! arcs, so it is an [`Outline`] rather than polygons of the layer.

use std::collections::HashMap;

use super::dissolve::unique;
use super::{Arcs, Feature, Layer, Polygon, Ring, Topo, arc_index, signed_area};

/// Polygons with arcs of their own, made by [`Layer::outline`]. Encode them with
/// [`PathEncoder::new`](super::PathEncoder::new)`(&outline, …)`.
#[derive(Debug, Clone, Default)]
pub struct Outline {
    /// The outline's arcs (one closed arc per ring).
    pub topo: Topo,
    /// Outer rings with their holes.
    pub polygons: Vec<Polygon>,
    /// Boundary pieces that were cut where parts met and joined again (0 when the
    /// topology alone gave the outline).
    pub joined: usize,
}

impl Arcs for Outline {
    fn topo(&self) -> &Topo {
        &self.topo
    }
}

/// A merge tolerance for [`Layer::outline`] that closes Germany's state borders (they
/// disagree by up to ~200 m between the state files) and is far below a pixel on any
/// country or Europe map.
pub const MERGE_TOLERANCE_M: f64 = 300.0;

/// Metres per degree of latitude.
const METRES_PER_DEGREE: f64 = 111_320.0;

impl Layer {
    /// The outline of the features like [`Layer::dissolve`], and in addition with the
    /// borders between parts that do not share arcs removed: boundary stretches within
    /// `tolerance_m` metres of another part's boundary are dropped (up to three times
    /// that where the stretch never gets farther away) and the pieces left are joined
    /// end to start, nearest first. [`MERGE_TOLERANCE_M`] suits Germany; anything
    /// below the map's pixel size is invisible. Slivers closed off by the joining (where two parts' borders disagree
    /// by more) are dropped when smaller than (30 × tolerance)².
    ///
    /// Repeated features count once, as for [`Layer::dissolve`]. A feature's own
    /// polygons (a municipality and its islands) are one part and never merge with
    /// each other; an island of another feature within about the tolerance of a coast
    /// merges into it, and an islet lying wholly within three times the tolerance of
    /// another part may vanish — both invisible at the scales outlines are drawn at.
    /// With one connected part, or a tolerance of 0, this is the plain dissolve.
    pub fn outline<'a>(
        &self,
        features: impl IntoIterator<Item = &'a Feature>,
        tolerance_m: f64,
    ) -> Outline {
        let grouped = unique(features)
            .enumerate()
            .flat_map(|(i, f)| f.polygons.iter().map(move |p| (i, p)));
        self.topo.outline_grouped(grouped, tolerance_m)
    }
}

impl Topo {
    /// [`Layer::outline`] on bare polygons (no de-duplication; every polygon is a part
    /// of its own unless it shares arcs with others).
    pub fn outline<'a>(
        &self,
        polygons: impl IntoIterator<Item = &'a Polygon>,
        tolerance_m: f64,
    ) -> Outline {
        self.outline_grouped(polygons.into_iter().enumerate(), tolerance_m)
    }

    fn outline_grouped<'a>(
        &self,
        polygons: impl IntoIterator<Item = (usize, &'a Polygon)>,
        tolerance_m: f64,
    ) -> Outline {
        let boundary = self.boundary(polygons);
        let chains: Vec<Chain> = boundary
            .rings
            .iter()
            .map(|ring| self.chain(ring, &boundary.component))
            .collect();
        let (rings, joined) = if boundary.components > 1 && tolerance_m > 0.0 {
            merge(chains, tolerance_m / METRES_PER_DEGREE)
        } else {
            let rings = chains.into_iter().map(Chain::into_ring).collect();
            (rings, 0)
        };
        let topo = Topo::new(rings);
        let refs: Vec<Ring> = (0..topo.arcs().len()).map(|i| vec![i as i64]).collect();
        let polygons = topo.group(refs, boundary.exterior_area);
        Outline {
            topo,
            polygons,
            joined,
        }
    }

    /// A ring's points with the part each comes from.
    fn chain(&self, ring: &[i64], component: &HashMap<usize, u32>) -> Chain {
        let mut points: Vec<[f64; 2]> = Vec::new();
        let mut parts = Vec::new();
        for &reference in ring {
            let Some((arc, reversed)) = self.arc(reference) else {
                continue;
            };
            let part = component
                .get(&arc_index(reference).0)
                .copied()
                .unwrap_or(u32::MAX);
            let skip = usize::from(!points.is_empty());
            let ordered: Box<dyn Iterator<Item = &[f64; 2]>> = if reversed {
                Box::new(arc.iter().rev())
            } else {
                Box::new(arc.iter())
            };
            for &p in ordered.skip(skip) {
                points.push(p);
                parts.push(part);
            }
        }
        let closed = points.len() > 1 && points.first() == points.last();
        if closed {
            points.pop();
            parts.pop();
        }
        Chain {
            points,
            parts,
            closed,
        }
    }
}

/// A stitched boundary ring as points; `closed` rings do not repeat their first point.
struct Chain {
    points: Vec<[f64; 2]>,
    parts: Vec<u32>,
    closed: bool,
}

impl Chain {
    /// The points as one arc, repeating the first point when closed.
    fn into_ring(mut self) -> Vec<[f64; 2]> {
        if self.closed
            && let Some(&first) = self.points.first()
        {
            self.points.push(first);
        }
        self.points
    }
}

/// Removes boundary stretches near another part's boundary and joins what is left.
fn merge(chains: Vec<Chain>, eps: f64) -> (Vec<Vec<[f64; 2]>>, usize) {
    // Distances are measured on a plane with longitudes shrunk to the middle
    // latitude: over one country the error is a few per cent of the tolerance.
    let (sum, count) = chains
        .iter()
        .flat_map(|c| &c.points)
        .fold((0.0, 0usize), |(s, n), p| (s + p[1], n + 1));
    let k = (sum / count.max(1) as f64).to_radians().cos();
    let plane = |p: [f64; 2]| [p[0] * k, p[1]];
    let far = 3.0 * eps;
    let index = SegmentIndex::new(&chains, far, plane);

    let mut rings = Vec::new();
    let mut pieces: Vec<Vec<[f64; 2]>> = Vec::new();
    for chain in &chains {
        let n = chain.points.len();
        let distance: Vec<f64> = (0..n)
            .map(|i| index.distance(plane(chain.points[i]), chain.parts[i], far))
            .collect();
        let mut covered: Vec<bool> = distance.iter().map(|&d| d <= eps).collect();
        if !covered.iter().any(|&c| c) {
            rings.push(Chain::into_ring(Chain {
                points: chain.points.clone(),
                parts: Vec::new(),
                closed: chain.closed,
            }));
            continue;
        }
        // Runs that never get clearly away are the other part's border drawn a little
        // differently, not a border of the whole.
        let order: Vec<usize> = if chain.closed {
            let start = covered.iter().position(|&c| c).unwrap_or(0);
            (start..n).chain(0..start).collect()
        } else {
            (0..n).collect()
        };
        let mut runs: Vec<(usize, usize)> = Vec::new(); // positions in `order`, inclusive
        let mut i = 0;
        while i < n {
            if covered[order[i]] {
                i += 1;
                continue;
            }
            let start = i;
            while i < n && !covered[order[i]] {
                i += 1;
            }
            runs.push((start, i - 1));
        }
        for &(a, b) in &runs {
            if !(a..=b).any(|p| distance[order[p]] >= far) {
                (a..=b).for_each(|p| covered[order[p]] = true);
                continue;
            }
            // The piece reaches one point into the merge zone on each side, so joined
            // pieces meet where the parts do.
            let first = if a > 0 || chain.closed {
                a.saturating_sub(1)
            } else {
                a
            };
            let last = if b + 1 < n {
                b + 1
            } else if chain.closed {
                n
            } else {
                b
            };
            let piece: Vec<[f64; 2]> = (first..=last).map(|p| chain.points[order[p % n]]).collect();
            pieces.push(piece);
        }
    }
    let joined = pieces.len();
    rings.extend(join(pieces, eps, plane));
    (rings, joined)
}

/// Joins pieces end to start, globally nearest pairs first, and drops the slivers that
/// close on themselves.
fn join(
    pieces: Vec<Vec<[f64; 2]>>,
    eps: f64,
    plane: impl Fn([f64; 2]) -> [f64; 2],
) -> Vec<Vec<[f64; 2]>> {
    let reach = 30.0 * eps;
    let ends: Vec<[f64; 2]> = pieces
        .iter()
        .map(|p| plane(*p.last().unwrap_or(&[0.0; 2])))
        .collect();
    let starts: Vec<[f64; 2]> = pieces
        .iter()
        .map(|p| plane(*p.first().unwrap_or(&[0.0; 2])))
        .collect();
    let cell = |p: [f64; 2]| ((p[0] / reach).floor() as i64, (p[1] / reach).floor() as i64);
    let mut grid: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    for (j, &s) in starts.iter().enumerate() {
        grid.entry(cell(s)).or_default().push(j);
    }
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (i, &e) in ends.iter().enumerate() {
        let (cx, cy) = cell(e);
        for x in cx - 1..=cx + 1 {
            for y in cy - 1..=cy + 1 {
                for &j in grid.get(&(x, y)).into_iter().flatten() {
                    let d = distance(e, starts[j]);
                    if d <= reach {
                        pairs.push((d, i, j));
                    }
                }
            }
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut next = vec![usize::MAX; pieces.len()];
    let mut has_previous = vec![false; pieces.len()];
    for (_, i, j) in pairs {
        if next[i] == usize::MAX && !has_previous[j] {
            next[i] = j;
            has_previous[j] = true;
        }
    }
    let mut used = vec![false; pieces.len()];
    let mut rings = Vec::new();
    let sliver = (30.0 * eps).powi(2);
    // Chains with a loose start first, so they are followed from their beginning.
    let starts_first = (0..pieces.len())
        .filter(|&i| !has_previous[i])
        .chain(0..pieces.len());
    for first in starts_first {
        if used[first] {
            continue;
        }
        let mut ring: Vec<[f64; 2]> = Vec::new();
        let mut at = first;
        let mut closed = false;
        while !used[at] {
            used[at] = true;
            ring.extend_from_slice(&pieces[at]);
            at = next[at];
            if at == usize::MAX {
                break;
            }
            if at == first {
                closed = true;
                break;
            }
        }
        if closed {
            if let Some(&p) = ring.first() {
                ring.push(p);
            }
            let area = signed_area(&ring.iter().map(|&p| plane(p)).collect::<Vec<_>>());
            if area.abs() < sliver {
                continue;
            }
        }
        rings.push(ring);
    }
    rings
}

fn distance(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// Boundary segments in a grid, for "how far is the nearest segment of another part".
struct SegmentIndex {
    size: f64,
    /// FxHash: the 25 cells around every boundary point are looked up.
    cells: rustc_hash::FxHashMap<(i64, i64), Vec<u32>>,
    segments: Vec<([f64; 2], [f64; 2], u32)>,
}

impl SegmentIndex {
    fn new(chains: &[Chain], size: f64, plane: impl Fn([f64; 2]) -> [f64; 2]) -> SegmentIndex {
        let mut index = SegmentIndex {
            size,
            cells: rustc_hash::FxHashMap::default(),
            segments: Vec::new(),
        };
        for chain in chains {
            let n = chain.points.len();
            let count = if chain.closed { n } else { n.saturating_sub(1) };
            for i in 0..count {
                let (a, b) = (plane(chain.points[i]), plane(chain.points[(i + 1) % n]));
                index.insert(a, b, chain.parts[i]);
            }
        }
        index
    }

    fn cell(&self, p: [f64; 2]) -> (i64, i64) {
        (
            (p[0] / self.size).floor() as i64,
            (p[1] / self.size).floor() as i64,
        )
    }

    /// Files a segment under every cell it passes, sampled at half a cell: long
    /// straight borders (sea lines) would cover too many cells by bounding box.
    fn insert(&mut self, a: [f64; 2], b: [f64; 2], part: u32) {
        let id = self.segments.len() as u32;
        self.segments.push((a, b, part));
        let steps = (distance(a, b) / (self.size / 2.0)).ceil().max(1.0) as usize;
        let mut last = None;
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            let c = self.cell([a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]);
            if last != Some(c) {
                self.cells.entry(c).or_default().push(id);
                last = Some(c);
            }
        }
    }

    /// Distance from `p` to the nearest segment of a part other than `part`, capped at
    /// `cap` (which must not exceed the cell size).
    fn distance(&self, p: [f64; 2], part: u32, cap: f64) -> f64 {
        let (cx, cy) = self.cell(p);
        let mut best = cap;
        // A segment within one cell size is sampled within a quarter cell of its
        // nearest point, so two cells around cover it.
        for x in cx - 2..=cx + 2 {
            for y in cy - 2..=cy + 2 {
                for &id in self.cells.get(&(x, y)).into_iter().flatten() {
                    let (a, b, other) = self.segments[id as usize];
                    if other != part {
                        best = best.min(segment_distance(p, a, b));
                    }
                }
            }
        }
        best
    }
}

fn segment_distance(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let length2 = dx * dx + dy * dy;
    let t = if length2 == 0.0 {
        0.0
    } else {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2).clamp(0.0, 1.0)
    };
    distance(p, [a[0] + t * dx, a[1] + t * dy])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two unit squares side by side that do not share their border: the right one's
    /// west edge is its own arc, 10 m east of the left one's east edge.
    fn apart() -> (Topo, Vec<Polygon>) {
        let gap = 10.0 / METRES_PER_DEGREE;
        let topo = Topo::new(vec![
            // Left square, counter-clockwise, one closed arc with points along x = 1.
            vec![
                [0.0, 0.0],
                [1.0, 0.0],
                [1.0, 0.3],
                [1.0, 0.6],
                [1.0, 1.0],
                [0.0, 1.0],
                [0.0, 0.0],
            ],
            // Right square, counter-clockwise, its west edge at 1 + gap with other points.
            vec![
                [1.0 + gap, 0.0],
                [2.0, 0.0],
                [2.0, 1.0],
                [1.0 + gap, 1.0],
                [1.0 + gap, 0.5],
                [1.0 + gap, 0.0],
            ],
        ]);
        let polygons = vec![
            Polygon {
                rings: vec![vec![0]],
            },
            Polygon {
                rings: vec![vec![1]],
            },
        ];
        (topo, polygons)
    }

    #[test]
    fn borders_of_parts_a_few_metres_apart_are_merged() {
        let (topo, polygons) = apart();
        // The plain dissolve keeps both squares.
        assert_eq!(topo.dissolve(&polygons).len(), 2);
        let outline = topo.outline(&polygons, 100.0);
        assert_eq!(outline.polygons.len(), 1, "{outline:?}");
        assert_eq!(outline.polygons[0].rings.len(), 1);
        let points = outline.topo.ring_points(&outline.polygons[0].rings[0]);
        assert_eq!(points.first(), points.last());
        assert!((signed_area(&points) - 2.0).abs() < 1e-3, "{points:?}");
        // No point of the old middle border survives except near the corners.
        assert!(
            points
                .iter()
                .all(|p| (p[0] - 1.0).abs() > 0.01 || p[1] == 0.0 || p[1] == 1.0),
            "{points:?}"
        );
        assert_eq!(outline.joined, 2);
    }

    #[test]
    fn without_tolerance_or_with_one_part_it_is_the_plain_dissolve() {
        let (topo, polygons) = apart();
        assert_eq!(topo.outline(&polygons, 0.0).polygons.len(), 2);
        let outline = topo.outline(&polygons[..1], 100.0);
        assert_eq!(outline.polygons.len(), 1);
        assert_eq!(outline.joined, 0);
        assert_eq!(outline.topo.arcs()[0], topo.arcs()[0]);
    }

    #[test]
    fn parts_far_apart_stay_apart() {
        let (topo, polygons) = apart();
        // 10 m apart but a tolerance of 1 m: nothing merges.
        assert_eq!(topo.outline(&polygons, 1.0).polygons.len(), 2);
    }
}
