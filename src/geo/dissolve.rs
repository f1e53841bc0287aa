//! Dissolving polygons into their common outline, on the topology.
//!
//! Two neighbours share their border as one arc, so the outline of a set of polygons is
//! the set of arcs used an odd number of times (once, in clean data): interior borders
//! cancel out. The remaining arcs are stitched end to end into rings. No coordinates are
//! computed or compared beyond arc endpoints, which is why Germany's 10,936
//! municipalities dissolve in milliseconds and the outline stays on the same arcs as the
//! municipality borders (it lines up exactly when drawn over them).

use std::collections::{HashMap, HashSet, VecDeque};

use super::{Feature, Layer, Polygon, Ring, Topo, arc_index, signed_area};

impl Layer {
    /// Dissolves the features' polygons into their outline: arcs used by two member
    /// polygons are interior and dropped; the remaining arcs are stitched head-to-tail
    /// into closed rings (following the drawing direction where it is consistent and
    /// reversing arcs where it is not; a chain that cannot be closed is kept as drawn
    /// rather than dropped). Holes are put into the smallest outer ring containing them;
    /// an outer ring inside another (features that overlap instead of sharing a
    /// border) is left out, unless it lies in a hole (an island in a lake).
    ///
    /// The same feature given twice counts once, so callers can pass one feature per
    /// seed municipality even where several share it; so do two features with the same
    /// `id` (Germany's file has 86 border municipalities in two state files).
    pub fn dissolve<'a>(&self, features: impl IntoIterator<Item = &'a Feature>) -> Vec<Polygon> {
        self.topo
            .dissolve(unique(features).flat_map(|f| f.polygons.iter()))
    }
}

/// The features without repeats: the same feature twice, or two features with the same
/// `id` (the first one is kept).
pub(crate) fn unique<'a>(
    features: impl IntoIterator<Item = &'a Feature>,
) -> impl Iterator<Item = &'a Feature> {
    let mut seen = HashSet::new();
    let mut ids = HashSet::new();
    features.into_iter().filter(move |f| {
        seen.insert(std::ptr::from_ref::<Feature>(f))
            && f.id.as_deref().is_none_or(|id| ids.insert(id.to_owned()))
    })
}

/// An endpoint of an arc, compared exactly: arcs meeting at a node were cut from the
/// same quantized point, so their decoded coordinates are bit-identical.
type Node = (u64, u64);

fn node(point: [f64; 2]) -> Node {
    // `+ 0.0` folds -0.0 into 0.0, the only two bit patterns for one equal value.
    ((point[0] + 0.0).to_bits(), (point[1] + 0.0).to_bits())
}

/// The outline as arc rings before they are sorted into polygons, with what the
/// near-border merge of [`Layer::outline`] needs besides.
pub(crate) struct Boundary {
    /// Stitched rings (closed unless the data has an open chain).
    pub rings: Vec<Ring>,
    /// For each arc index on the boundary: the connected group of input polygons
    /// (polygons linked by shared arcs or by belonging to one feature) it belongs to.
    pub component: HashMap<usize, u32>,
    /// Number of such groups among the input.
    pub components: usize,
    /// Summed signed area of the input's outer rings: its sign is the file's winding
    /// convention for outer rings.
    pub exterior_area: f64,
}

impl Topo {
    /// [`Layer::dissolve`] on bare polygons (no de-duplication).
    pub fn dissolve<'a>(&self, polygons: impl IntoIterator<Item = &'a Polygon>) -> Vec<Polygon> {
        let boundary = self.boundary(polygons.into_iter().enumerate());
        self.group(boundary.rings, boundary.exterior_area)
    }

    /// The boundary of polygons given with a group key each: polygons with the same key
    /// (one feature's) count as connected even where they share no arc.
    pub(crate) fn boundary<'a>(
        &self,
        polygons: impl IntoIterator<Item = (usize, &'a Polygon)>,
    ) -> Boundary {
        // Per arc: how often it is used, the reference of its first use (its direction
        // as drawn by the polygon that keeps it) and the polygon of that first use.
        let mut uses: Vec<(u32, i64, u32)> = vec![(0, 0, 0); self.arcs().len()];
        let mut order = Vec::new();
        let mut exterior_area = 0.0;
        // Union-find over polygons: two polygons sharing an arc are one group.
        let mut parent: Vec<u32> = Vec::new();
        let mut first_of_group: HashMap<usize, u32> = HashMap::new();
        for (group, polygon) in polygons {
            let me = parent.len() as u32;
            parent.push(me);
            let first = *first_of_group.entry(group).or_insert(me);
            if first != me {
                let root = find(&mut parent, first);
                parent[me as usize] = root;
            }
            for (r, ring) in polygon.rings.iter().enumerate() {
                if r == 0 {
                    exterior_area += self.ring_area(ring);
                }
                for &reference in ring {
                    let (index, _) = arc_index(reference);
                    let Some(slot) = uses.get_mut(index) else {
                        continue;
                    };
                    if slot.0 == 0 {
                        *slot = (0, reference, me);
                        order.push(index);
                    } else {
                        let (a, b) = (find(&mut parent, slot.2), find(&mut parent, me));
                        parent[a.max(b) as usize] = a.min(b);
                    }
                    slot.0 += 1;
                }
            }
        }
        let mut component = HashMap::new();
        let mut groups = HashMap::new();
        let mut edges = Vec::new();
        for i in order {
            let (count, reference, polygon) = uses[i];
            if count % 2 == 1 && self.ends(reference).is_some() {
                edges.push(reference);
                let root = find(&mut parent, polygon);
                let next = groups.len() as u32;
                component.insert(i, *groups.entry(root).or_insert(next));
            }
        }
        Boundary {
            rings: self.stitch(&edges),
            component,
            components: groups.len(),
            exterior_area,
        }
    }

    /// Signed area of a ring in lon/lat (positive = counter-clockwise, north up),
    /// without collecting its points.
    pub(crate) fn ring_area(&self, ring: &[i64]) -> f64 {
        let mut origin: Option<[f64; 2]> = None;
        let mut previous = [0.0; 2];
        let mut sum = 0.0;
        for &reference in ring {
            let Some((arc, reversed)) = self.arc(reference) else {
                continue;
            };
            let mut visit = |p: [f64; 2]| {
                let o = *origin.get_or_insert(p);
                sum += (previous[0] - o[0]) * (p[1] - o[1]) - (p[0] - o[0]) * (previous[1] - o[1]);
                previous = p;
            };
            if reversed {
                arc.iter().rev().for_each(|&p| visit(p));
            } else {
                arc.iter().for_each(|&p| visit(p));
            }
        }
        // Measured from the first point, the closing segment adds nothing.
        sum / 2.0
    }

    /// Start and end node of an arc reference (in its direction); `None` for an empty
    /// or missing arc.
    fn ends(&self, reference: i64) -> Option<(Node, Node)> {
        let (arc, reversed) = self.arc(reference)?;
        let (first, last) = (*arc.first()?, *arc.last()?);
        Some(if reversed {
            (node(last), node(first))
        } else {
            (node(first), node(last))
        })
    }

    /// Chains edges into rings. Each edge is used once; at every node the walk prefers
    /// an edge leaving in its drawn direction and otherwise takes one arriving there,
    /// reversed. A chain stuck at its end grows backwards from its start before it is
    /// given up as open.
    fn stitch(&self, edges: &[i64]) -> Vec<Ring> {
        let mut at: HashMap<Node, Vec<usize>> = HashMap::with_capacity(edges.len() * 2);
        let ends: Vec<(Node, Node)> = edges
            .iter()
            .map(|&r| self.ends(r).unwrap_or_default())
            .collect();
        for (e, &(start, end)) in ends.iter().enumerate() {
            at.entry(start).or_default().push(e);
            if end != start {
                at.entry(end).or_default().push(e);
            }
        }
        let mut used = vec![false; edges.len()];
        // The unused edge to continue with at `node`: `want_start` asks for an edge
        // that starts there when walked as drawn (else one is reversed).
        let take = |node: Node, want_start: bool, used: &mut Vec<bool>| -> Option<i64> {
            let candidates = at.get(&node)?;
            let pick = |drawn: bool| {
                candidates.iter().copied().find(|&e| {
                    let (start, end) = ends[e];
                    !used[e] && (if want_start == drawn { start } else { end }) == node
                })
            };
            let (e, drawn) = pick(true)
                .map(|e| (e, true))
                .or_else(|| pick(false).map(|e| (e, false)))?;
            used[e] = true;
            Some(if drawn { edges[e] } else { !edges[e] })
        };
        let mut rings = Vec::new();
        for first in 0..edges.len() {
            if used[first] {
                continue;
            }
            used[first] = true;
            let mut chain = VecDeque::from([edges[first]]);
            let (mut head, mut tail) = ends[first];
            while head != tail {
                if let Some(r) = take(tail, true, &mut used) {
                    tail = self.ends(r).map_or(tail, |e| e.1);
                    chain.push_back(r);
                } else if let Some(r) = take(head, false, &mut used) {
                    head = self.ends(r).map_or(head, |e| e.0);
                    chain.push_front(r);
                } else {
                    break;
                }
            }
            rings.push(chain.into());
        }
        rings
    }

    /// Sorts rings into polygons. Outer rings are those wound like the input's
    /// exteriors (TopoJSON files differ in convention, so it is measured, not assumed);
    /// each other ring becomes a hole of the smallest outer ring containing it, or an
    /// outer ring itself when none does.
    pub(crate) fn group(&self, rings: Vec<Ring>, exterior_area: f64) -> Vec<Polygon> {
        struct Shape {
            ring: Ring,
            points: Vec<[f64; 2]>,
            area: f64,
            bbox: [f64; 4],
            /// Built on first use: only rings that something may lie in need it.
            bands: std::cell::OnceCell<BandIndex>,
        }
        let mut shapes: Vec<Shape> = rings
            .into_iter()
            .map(|ring| {
                let points = self.ring_points(&ring);
                let area = signed_area(&points);
                let bbox = points
                    .iter()
                    .fold([f64::MAX, f64::MAX, f64::MIN, f64::MIN], |b, &[x, y]| {
                        [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)]
                    });
                Shape {
                    ring,
                    points,
                    area,
                    bbox,
                    bands: std::cell::OnceCell::new(),
                }
            })
            .collect();
        let outer_sign = if exterior_area != 0.0 {
            exterior_area.signum()
        } else {
            shapes
                .iter()
                .map(|s| s.area)
                .max_by(|a, b| a.abs().total_cmp(&b.abs()))
                .map_or(1.0, f64::signum)
        };
        let is_outer = |s: &Shape| s.area == 0.0 || s.area.signum() == outer_sign;
        // Larger outer rings first, so the output reads from the mainland outwards.
        shapes.sort_by(|a, b| b.area.abs().total_cmp(&a.area.abs()));
        let (outers, holes): (Vec<Shape>, Vec<Shape>) = shapes.into_iter().partition(is_outer);

        let inside = |inner: &Shape, outer: &Shape| {
            let [w, s, e, n] = outer.bbox;
            inner.bbox[0] >= w
                && inner.bbox[1] >= s
                && inner.bbox[2] <= e
                && inner.bbox[3] <= n
                && mostly_inside(&inner.points, |p| {
                    outer
                        .bands
                        .get_or_init(|| BandIndex::new(&outer.points))
                        .contains(p, &outer.points)
                })
        };
        let mut holes_of: Vec<Vec<usize>> = vec![Vec::new(); outers.len()];
        let mut orphans = Vec::new();
        for (h, hole) in holes.iter().enumerate() {
            // Outers are sorted by size, so the last container found is the smallest.
            match outers.iter().rposition(|outer| inside(hole, outer)) {
                Some(i) => holes_of[i].push(h),
                None => orphans.push(h),
            }
        }
        // An outer ring inside a larger outer ring, and not in one of its holes, comes
        // from features that overlap instead of sharing a border (a sea feature drawn
        // over islands, a city over its surrounding district): the union needs only
        // the larger ring. An island in a lake lies in a hole and stays, and so does an
        // enclave filling a hole drawn with other arcs (Bremen in Lower Saxony, from
        // two state files): its ring runs along the hole, so its box matches the hole's.
        let in_hole = |inner: &Shape, hole: &Shape| {
            inside(inner, hole) || box_overlap(inner.bbox, hole.bbox) > 0.5
        };
        let mut keep = vec![true; outers.len()];
        for i in 0..outers.len() {
            keep[i] = !(0..i).any(|j| {
                keep[j]
                    && inside(&outers[i], &outers[j])
                    && !holes_of[j].iter().any(|&h| in_hole(&outers[i], &holes[h]))
            });
        }
        let mut polygons: Vec<Polygon> = Vec::new();
        for (i, outer) in outers.into_iter().enumerate() {
            if keep[i] {
                let mut rings = vec![outer.ring];
                rings.extend(holes_of[i].iter().map(|&h| holes[h].ring.clone()));
                polygons.push(Polygon { rings });
            }
        }
        polygons.extend(orphans.into_iter().map(|h| Polygon {
            rings: vec![holes[h].ring.clone()],
        }));
        polygons
    }
}

/// Intersection over union of two boxes `[west, south, east, north]`.
fn box_overlap(a: [f64; 4], b: [f64; 4]) -> f64 {
    let area = |b: [f64; 4]| (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0);
    let common = area([
        a[0].max(b[0]),
        a[1].max(b[1]),
        a[2].min(b[2]),
        a[3].min(b[3]),
    ]);
    let union = area(a) + area(b) - common;
    if union > 0.0 { common / union } else { 0.0 }
}

/// Whether most of a few sampled points of `inner` lie inside `outer`. A hole usually
/// touches its outer ring only at single points, so a majority vote over samples is
/// immune to a sample landing on the boundary.
fn mostly_inside(inner: &[[f64; 2]], in_outer: impl Fn([f64; 2]) -> bool) -> bool {
    if inner.is_empty() {
        return false;
    }
    let samples = inner.len().min(5);
    let step = inner.len() / samples;
    let inside = (0..samples).filter(|&i| in_outer(inner[i * step])).count();
    inside * 2 > samples
}

/// A ring's edges filed by horizontal band, so that casting a ray from a point looks
/// only at the edges that span the point's latitude: grouping tests thousands of small
/// rings against coastlines of a hundred thousand points.
struct BandIndex {
    south: f64,
    height: f64,
    /// Per band, the indices `i` of the edges `(i - 1, i)` whose latitude range meets it.
    bands: Vec<Vec<u32>>,
}

impl BandIndex {
    fn new(ring: &[[f64; 2]]) -> BandIndex {
        let (south, north) = ring
            .iter()
            .fold((f64::MAX, f64::MIN), |(s, n), p| (s.min(p[1]), n.max(p[1])));
        let count = (ring.len() / 8).clamp(1, 4096);
        let span = north - south;
        let height = if span > 0.0 { span / count as f64 } else { 1.0 };
        let mut index = BandIndex {
            south,
            height,
            bands: vec![Vec::new(); count],
        };
        for i in 0..ring.len() {
            let j = if i == 0 { ring.len() - 1 } else { i - 1 };
            let (low, high) = (ring[i][1].min(ring[j][1]), ring[i][1].max(ring[j][1]));
            for band in index.band(low)..=index.band(high) {
                index.bands[band].push(i as u32);
            }
        }
        index
    }

    fn band(&self, y: f64) -> usize {
        (((y - self.south) / self.height).max(0.0) as usize).min(self.bands.len() - 1)
    }

    /// [`point_in_ring`] for the ring this index was built from, with the same result.
    fn contains(&self, p: [f64; 2], ring: &[[f64; 2]]) -> bool {
        if ring.len() < 3 || p[1] < self.south {
            return false;
        }
        let mut inside = false;
        for &i in &self.bands[self.band(p[1])] {
            let i = i as usize;
            let j = if i == 0 { ring.len() - 1 } else { i - 1 };
            if crosses(p, ring[i], ring[j]) {
                inside = !inside;
            }
        }
        inside
    }
}

/// Whether a ray from `p` towards +x crosses the edge `a`–`b` (half-open in y).
fn crosses(p: [f64; 2], [xi, yi]: [f64; 2], [xj, yj]: [f64; 2]) -> bool {
    (yi > p[1]) != (yj > p[1]) && p[0] < (xj - xi) * (p[1] - yi) / (yj - yi) + xi
}

/// The root of `i` in a union-find forest, halving paths on the way.
fn find(parent: &mut [u32], mut i: u32) -> u32 {
    while parent[i as usize] != i {
        let up = parent[parent[i as usize] as usize];
        parent[i as usize] = up;
        i = up;
    }
    i
}

/// Even-odd ray casting; the ring may or may not repeat its first point. (What
/// [`BandIndex::contains`] computes, edge by edge: kept as its reference in tests.)
#[cfg(test)]
fn point_in_ring(p: [f64; 2], ring: &[[f64; 2]]) -> bool {
    let mut inside = false;
    let n = ring.len();
    if n < 3 {
        return false;
    }
    let mut j = n - 1;
    for i in 0..n {
        if crosses(p, ring[i], ring[j]) {
            inside = !inside;
        }
        j = i;
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::super::load::parse_layer;
    use super::*;
    use std::path::Path;

    /// Drops points that are repeated or lie on the straight line between neighbours,
    /// leaving a ring's corners.
    fn corners(points: &[[f64; 2]]) -> Vec<[f64; 2]> {
        let mut ring: Vec<[f64; 2]> = points.to_vec();
        if ring.len() > 1 && ring.first() == ring.last() {
            ring.pop();
        }
        loop {
            let n = ring.len();
            let removable = (0..n).find(|&i| {
                let (a, b, c) = (ring[(i + n - 1) % n], ring[i], ring[(i + 1) % n]);
                (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]) == 0.0
            });
            match removable {
                Some(i) if n > 3 => {
                    ring.remove(i);
                }
                _ => return ring,
            }
        }
    }

    fn squares() -> Layer {
        let text = super::super::load::tests::TWO_SQUARES;
        parse_layer(text.as_bytes(), Path::new("t.topo.json")).unwrap()
    }

    #[test]
    fn two_adjacent_squares_dissolve_into_one_ring_with_four_corners() {
        let layer = squares();
        let west = layer.feature_by_relation(11).unwrap();
        let east = layer.feature_by_relation(22).unwrap();
        let outline = layer.dissolve([west, east]);
        assert_eq!(outline.len(), 1);
        assert_eq!(outline[0].rings.len(), 1);
        let ring = &outline[0].rings[0];
        // The shared arc 0 is gone; arcs 1 and 2 remain.
        let mut arcs: Vec<usize> = ring.iter().map(|&r| arc_index(r).0).collect();
        arcs.sort();
        assert_eq!(arcs, vec![1, 2]);
        let points = layer.topo.ring_points(ring);
        assert_eq!(points.first(), points.last(), "ring is closed");
        let corners = corners(&points);
        assert_eq!(corners.len(), 4, "{corners:?}");
        assert!((layer.topo.ring_area(ring) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn duplicate_features_count_once() {
        let layer = squares();
        let west = layer.feature_by_relation(11).unwrap();
        let outline = layer.dissolve([west, west]);
        assert_eq!(outline.len(), 1);
        assert_eq!(outline[0].rings, vec![vec![0, 1]]);
    }

    #[test]
    fn inconsistent_winding_is_stitched_by_reversing_arcs() {
        // The east square drawn clockwise: the shared arc is walked in the same
        // direction by both squares, so the outline needs an arc reversed.
        let layer = squares();
        let topo = &layer.topo;
        let west = Polygon {
            rings: vec![vec![0, 1]],
        };
        let east_clockwise = Polygon {
            rings: vec![vec![0, !2]],
        };
        let outline = topo.dissolve([&west, &east_clockwise]);
        assert_eq!(outline.len(), 1);
        let points = topo.ring_points(&outline[0].rings[0]);
        assert_eq!(points.first(), points.last());
        assert_eq!(corners(&points).len(), 4);
    }

    #[test]
    fn enclosed_polygon_leaves_a_hole_and_open_chains_are_kept() {
        // A 4×4 square (arc 0, closed) around a 1×1 square (arc 1, closed): the outer
        // alone keeps its hole; both together dissolve to no outline at the inner edge.
        let topo = Topo::new(vec![
            vec![[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0], [0.0, 0.0]],
            vec![[1.0, 1.0], [2.0, 1.0], [2.0, 2.0], [1.0, 2.0], [1.0, 1.0]],
            vec![[10.0, 0.0], [11.0, 0.0], [11.0, 1.0]],
        ]);
        let outer = Polygon {
            rings: vec![vec![0], vec![-2]],
        };
        let inner = Polygon {
            rings: vec![vec![1]],
        };
        let alone = topo.dissolve([&outer]);
        assert_eq!(alone, vec![outer.clone()]);
        let both = topo.dissolve([&outer, &inner]);
        assert_eq!(
            both,
            vec![Polygon {
                rings: vec![vec![0]]
            }]
        );
        // An unclosable chain is kept as drawn.
        let open = Polygon {
            rings: vec![vec![2]],
        };
        assert_eq!(topo.dissolve([&open]), vec![open.clone()]);
    }

    #[test]
    fn overlapping_parts_drop_out_but_islands_in_lakes_stay() {
        let square = |x: f64, y: f64, size: f64| {
            vec![
                [x, y],
                [x + size, y],
                [x + size, y + size],
                [x, y + size],
                [x, y],
            ]
        };
        let topo = Topo::new(vec![
            square(0.0, 0.0, 10.0),
            square(2.0, 2.0, 6.0),
            square(4.0, 4.0, 2.0),
            square(0.5, 0.5, 1.0),
        ]);
        let land = Polygon {
            rings: vec![vec![0], vec![-2]],
        };
        let island = Polygon {
            rings: vec![vec![2]],
        };
        let overlap = Polygon {
            rings: vec![vec![3]],
        };
        assert_eq!(
            topo.dissolve([&land, &island, &overlap]),
            vec![land, island]
        );
    }

    #[test]
    fn band_index_agrees_with_plain_ray_casting() {
        // A jagged ring (a comb) with teeth of different heights, and points on a grid
        // that includes vertex latitudes exactly.
        let mut ring = vec![[0.0, 0.0], [40.0, 0.0]];
        for k in (0..20).rev() {
            let x = k as f64 * 2.0;
            ring.push([x + 2.0, 5.0 + (k % 7) as f64]);
            ring.push([x + 1.0, 5.0 + (k % 7) as f64]);
            ring.push([x + 1.0, 3.0]);
            ring.push([x, 3.0]);
        }
        let index = BandIndex::new(&ring);
        for xi in -2..=84 {
            for yi in -2..=26 {
                let p = [xi as f64 / 2.0, yi as f64 / 2.0];
                assert_eq!(index.contains(p, &ring), point_in_ring(p, &ring), "{p:?}");
            }
        }
    }

    #[test]
    fn point_in_ring_handles_inside_outside() {
        let square = [[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]];
        assert!(point_in_ring([1.0, 1.0], &square));
        assert!(!point_in_ring([3.0, 1.0], &square));
    }
}
