//! Compact SVG path data for polygons, sharing one simplification per map.
//!
//! Germany's page inlines 10,936 municipality paths, so every byte of path data counts
//! ten thousand times. The encoder therefore
//! - projects, simplifies and rounds each arc once (neighbours draw the very same
//!   points, so no gaps or overlaps open between them);
//! - writes one relative path per feature: `m x y` then implicit relative line-tos,
//!   `h`/`v` where a step is axis-parallel and that is shorter, `z` closing each ring,
//!   numbers with the fewest characters (`-.5`, no separator before `-`);
//! - drops zero-length steps and points on a straight line (after rounding many are);
//! - leaves out rings too small to see, but never a feature's last ring.

use super::simplify::simplify;
use super::{Arcs, Feature, Frame, Layer, Polygon, Topo};

/// Encodes polygons of one topology as SVG path data in one [`Frame`].
///
/// Each arc is projected, simplified and rounded the first time a path needs it and
/// then reused, so use one encoder per map (all paths of a map share borders).
#[derive(Debug)]
pub struct PathEncoder<'a> {
    topo: &'a Topo,
    frame: &'a Frame,
    tolerance: f64,
    decimals: u8,
    /// 10^decimals: a coordinate `v` is stored as the integer `round(v * factor)`.
    factor: f64,
    /// Rings with a smaller area (viewBox units²) are left out.
    min_area: f64,
    /// Per arc, once computed: its simplified points in rounded integer units.
    arcs: Vec<Option<Vec<[i64; 2]>>>,
}

impl<'a> PathEncoder<'a> {
    /// An encoder for the arcs of `source` (a [`Layer`], an
    /// [`Outline`](super::Outline), a [`Topo`]) in `frame`: arcs are simplified with
    /// Douglas–Peucker at `tolerance` viewBox units and coordinates rounded to
    /// `decimals` places (0 = integers; more than 4 is capped, finer than any screen).
    /// Rings smaller than `tolerance²` are dropped unless a feature would be left empty
    /// (see [`PathEncoder::with_min_area`]).
    pub fn new<S: Arcs + ?Sized>(
        source: &'a S,
        frame: &'a Frame,
        tolerance: f64,
        decimals: u8,
    ) -> Self {
        let topo = source.topo();
        let decimals = decimals.min(4);
        let tolerance = tolerance.max(0.0);
        PathEncoder {
            topo,
            frame,
            tolerance,
            decimals,
            factor: 10f64.powi(i32::from(decimals)),
            min_area: tolerance * tolerance,
            arcs: vec![None; topo.arcs().len()],
        }
    }

    /// Sets the area (viewBox units²) below which a ring is left out; rings of zero
    /// area are always left out, except for the largest ring of a feature.
    pub fn with_min_area(mut self, min_area: f64) -> Self {
        self.min_area = min_area.max(0.0);
        self
    }

    /// Path data for a feature.
    pub fn feature_path(&mut self, feature: &Feature) -> String {
        self.path(&feature.polygons)
    }

    /// Path data for polygons (one feature, or an outline from [`Layer::dissolve`]; for
    /// an [`Outline`](super::Outline) use an encoder made for the outline): all rings
    /// in one path, holes included. Holes run opposite to their outer ring in
    /// TopoJSON, so the default `nonzero` fill rule cuts them; `fill-rule="evenodd"`
    /// also does where a file's winding is inconsistent. Empty only when `polygons`
    /// has no points at all.
    pub fn path(&mut self, polygons: &[Polygon]) -> String {
        let mut rings: Vec<(Vec<[i64; 2]>, f64)> = Vec::new();
        for polygon in polygons {
            for ring in &polygon.rings {
                let points = self.ring_units(ring);
                if points.is_empty() {
                    continue;
                }
                let area = (area2(&points) as f64 / 2.0).abs() / (self.factor * self.factor);
                rings.push((points, area));
            }
        }
        let largest = rings
            .iter()
            .enumerate()
            .max_by(|(_, a), (_, b)| a.1.total_cmp(&b.1).then(a.0.len().cmp(&b.0.len())))
            .map(|(i, _)| i);
        let mut writer = Writer::new(self.decimals);
        for (i, (points, area)) in rings.iter().enumerate() {
            if Some(i) == largest || (*area > 0.0 && *area >= self.min_area) {
                writer.ring(points);
            }
        }
        writer.out
    }

    /// The points a ring is drawn with, in viewBox units (after simplification,
    /// rounding and clean-up; the closing point is not repeated).
    pub fn ring_points(&mut self, ring: &[i64]) -> Vec<(f64, f64)> {
        self.ring_units(ring)
            .into_iter()
            .map(|[x, y]| (x as f64 / self.factor, y as f64 / self.factor))
            .collect()
    }

    /// A ring in rounded integer units, cleaned: no repeated points, no points on a
    /// straight line between their neighbours, no spikes, no closing point.
    fn ring_units(&mut self, ring: &[i64]) -> Vec<[i64; 2]> {
        let mut points: Vec<[i64; 2]> = Vec::new();
        for &reference in ring {
            let (index, reversed) = super::arc_index(reference);
            let Some(arc) = self.arc(index) else {
                continue;
            };
            let mut push = |p: [i64; 2]| {
                if points.last() != Some(&p) {
                    points.push(p);
                }
            };
            if reversed {
                arc.iter().rev().for_each(|&p| push(p));
            } else {
                arc.iter().for_each(|&p| push(p));
            }
        }
        clean_ring(points)
    }

    /// The simplified, rounded points of arc `index`, computed on first use.
    fn arc(&mut self, index: usize) -> Option<&[[i64; 2]]> {
        let slot = self.arcs.get_mut(index)?;
        if slot.is_none() {
            let arc = self.topo.arcs().get(index)?;
            let projected: Vec<[f64; 2]> = arc
                .iter()
                .map(|&[lon, lat]| {
                    let (x, y) = self.frame.point(lon, lat);
                    [x, y]
                })
                .collect();
            let mut rounded: Vec<[i64; 2]> = Vec::new();
            for [x, y] in simplify(&projected, self.tolerance) {
                let p = [
                    (x * self.factor).round() as i64,
                    (y * self.factor).round() as i64,
                ];
                if rounded.last() != Some(&p) {
                    rounded.push(p);
                }
            }
            *slot = Some(rounded);
        }
        slot.as_deref()
    }
}

/// Removes what draws nothing: repeated points, points on the straight line between
/// their neighbours (and spikes, which double back on that line), and the closing
/// point. Works around the ring's seam too, since the start is arbitrary.
fn clean_ring(points: Vec<[i64; 2]>) -> Vec<[i64; 2]> {
    let collinear = |a: [i64; 2], b: [i64; 2], c: [i64; 2]| {
        let cross = i128::from(b[0] - a[0]) * i128::from(c[1] - a[1])
            - i128::from(b[1] - a[1]) * i128::from(c[0] - a[0]);
        cross == 0
    };
    let mut out: Vec<[i64; 2]> = Vec::with_capacity(points.len());
    for p in points {
        if out.last() == Some(&p) {
            continue;
        }
        while out.len() >= 2 && collinear(out[out.len() - 2], out[out.len() - 1], p) {
            out.pop();
        }
        if out.last() != Some(&p) {
            out.push(p);
        }
    }
    while out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    // The seam: the last point may lie on the line back to the first, and the first on
    // the line to the second.
    loop {
        let n = out.len();
        if n < 3 {
            break;
        }
        if collinear(out[n - 2], out[n - 1], out[0]) {
            out.pop();
        } else if collinear(out[n - 1], out[0], out[1]) {
            out.remove(0);
        } else {
            break;
        }
    }
    if out.len() == 2 {
        // A ring folded onto a line draws as a segment; one point keeps the feature.
        out.truncate(1);
    }
    out
}

/// Twice the signed area of a ring of integer points (exact).
fn area2(points: &[[i64; 2]]) -> i128 {
    let Some(&[x0, y0]) = points.first() else {
        return 0;
    };
    points
        .windows(2)
        .map(|w| {
            let (a, b) = (w[0], w[1]);
            i128::from(a[0] - x0) * i128::from(b[1] - y0)
                - i128::from(b[0] - x0) * i128::from(a[1] - y0)
        })
        .sum()
}

/// The path commands a step can be written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    /// Relative line-to (also implied after a relative move-to).
    Line,
    Horizontal,
    Vertical,
    /// Right after an absolute `M`: pairs would be absolute, so a step needs a letter.
    Absolute,
}

/// Appends path commands, tracking what is needed to keep numbers apart.
struct Writer {
    out: String,
    decimals: u8,
    command: Command,
    /// The previous token was a number (and whether it had a decimal point); `None`
    /// after a command letter.
    last_number: Option<bool>,
    /// Current point, after `z` the start of the ring just closed.
    cursor: Option<[i64; 2]>,
    scratch: String,
}

impl Writer {
    fn new(decimals: u8) -> Writer {
        Writer {
            out: String::new(),
            decimals,
            command: Command::Absolute,
            last_number: None,
            cursor: None,
            scratch: String::new(),
        }
    }

    fn ring(&mut self, points: &[[i64; 2]]) {
        let Some(&start) = points.first() else {
            return;
        };
        match self.cursor {
            // A leading relative `m` counts as absolute, and the pairs after it are
            // relative line-tos: the cheapest start.
            None => self.move_to('m', start, Command::Line),
            Some(cursor) => {
                let relative = [start[0] - cursor[0], start[1] - cursor[1]];
                let relative_len = self.number_len(relative[0]) + self.pair_len(relative);
                let absolute_len = self.number_len(start[0]) + self.pair_len(start);
                // An absolute `M` needs an `l` before the first step: one more byte.
                if relative_len <= absolute_len + 1 {
                    self.move_to('m', relative, Command::Line);
                } else {
                    self.move_to('M', start, Command::Absolute);
                }
            }
        }
        let mut previous = start;
        for &p in &points[1..] {
            self.step([p[0] - previous[0], p[1] - previous[1]]);
            previous = p;
        }
        self.letter('z');
        self.cursor = Some(start);
    }

    fn move_to(&mut self, letter: char, xy: [i64; 2], then: Command) {
        self.letter(letter);
        self.number(xy[0]);
        self.number(xy[1]);
        self.command = then;
    }

    /// Writes one relative step with whichever of `l`, `h`, `v` is shortest from the
    /// current command (staying costs no letter).
    fn step(&mut self, [dx, dy]: [i64; 2]) {
        let mut options = vec![(Command::Line, self.cost(Command::Line, &[dx, dy]))];
        if dy == 0 {
            options.push((Command::Horizontal, self.cost(Command::Horizontal, &[dx])));
        }
        if dx == 0 {
            options.push((Command::Vertical, self.cost(Command::Vertical, &[dy])));
        }
        let (best, _) = options
            .into_iter()
            .min_by_key(|&(command, cost)| (cost, command != self.command))
            .unwrap_or((Command::Line, 0));
        if best != self.command {
            self.letter(match best {
                Command::Horizontal => 'h',
                Command::Vertical => 'v',
                _ => 'l',
            });
            self.command = best;
        }
        match best {
            Command::Horizontal => self.number(dx),
            Command::Vertical => self.number(dy),
            _ => {
                self.number(dx);
                self.number(dy);
            }
        }
    }

    /// Bytes `numbers` take under `command`, from the current state.
    fn cost(&mut self, command: Command, numbers: &[i64]) -> usize {
        let mut cost = 0;
        let mut last = if command == self.command {
            self.last_number
        } else {
            cost += 1;
            None
        };
        for &n in numbers {
            self.scratch.clear();
            format_number(n, self.decimals, &mut self.scratch);
            cost += self.scratch.len() + usize::from(needs_separator(last, &self.scratch));
            last = Some(self.scratch.contains('.'));
        }
        cost
    }

    fn letter(&mut self, letter: char) {
        self.out.push(letter);
        self.last_number = None;
    }

    fn number(&mut self, n: i64) {
        self.scratch.clear();
        format_number(n, self.decimals, &mut self.scratch);
        if needs_separator(self.last_number, &self.scratch) {
            self.out.push(' ');
        }
        self.out.push_str(&self.scratch);
        self.last_number = Some(self.scratch.contains('.'));
    }

    fn number_len(&mut self, n: i64) -> usize {
        self.scratch.clear();
        format_number(n, self.decimals, &mut self.scratch);
        self.scratch.len()
    }

    /// Length of the second number of a pair including its separator.
    fn pair_len(&mut self, [x, y]: [i64; 2]) -> usize {
        self.scratch.clear();
        format_number(x, self.decimals, &mut self.scratch);
        let dot = self.scratch.contains('.');
        self.scratch.clear();
        format_number(y, self.decimals, &mut self.scratch);
        self.scratch.len() + usize::from(needs_separator(Some(dot), &self.scratch))
    }
}

/// Whether a number must be set apart from the previous token: not after a letter, not
/// before a minus sign, and not before a leading `.` when the previous number already
/// has a decimal point (`1.5.5` reads as 1.5, 0.5).
fn needs_separator(previous: Option<bool>, next: &str) -> bool {
    match previous {
        None => false,
        Some(had_dot) => !(next.starts_with('-') || (had_dot && next.starts_with('.'))),
    }
}

/// Writes `n / 10^decimals` with the fewest characters: no leading zero before the
/// point, no trailing zeros after it, no point for whole numbers, no `-0`.
fn format_number(n: i64, decimals: u8, out: &mut String) {
    use std::fmt::Write;
    if decimals == 0 {
        let _ = write!(out, "{n}");
        return;
    }
    let factor = 10u64.pow(u32::from(decimals));
    let magnitude = n.unsigned_abs();
    let (whole, mut fraction) = (magnitude / factor, magnitude % factor);
    if n < 0 {
        out.push('-');
    }
    if whole > 0 || fraction == 0 {
        let _ = write!(out, "{whole}");
    }
    if fraction > 0 {
        let mut width = usize::from(decimals);
        while fraction % 10 == 0 {
            fraction /= 10;
            width -= 1;
        }
        let _ = write!(out, ".{fraction:0width$}");
    }
}

/// Detail level chosen by [`fit_budget`] and the bytes of path data it produces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detail {
    /// Simplification tolerance, viewBox units.
    pub tolerance: f64,
    /// Decimal places of coordinates.
    pub decimals: u8,
    /// Total path data (sum of `d` attribute lengths) at this level.
    pub bytes: usize,
}

/// Detail levels from finest to coarsest. Sub-unit precision only pays off while the
/// tolerance is below a unit; beyond that whole units lose nothing visible.
const LEVELS: [(f64, u8); 10] = [
    (0.1, 1),
    (0.15, 1),
    (0.25, 1),
    (0.4, 1),
    (0.5, 0),
    (0.7, 0),
    (1.0, 0),
    (1.4, 0),
    (2.0, 0),
    (3.0, 0),
];

/// Picks the finest detail level whose path data for `features` (one path each) fits
/// in `budget_bytes`; if none does, the coarsest level. Sizes fall with every level, so
/// a binary search over the levels encodes the map about four times.
pub fn fit_budget<'a>(
    layer: &Layer,
    frame: &Frame,
    features: impl IntoIterator<Item = &'a Feature>,
    budget_bytes: usize,
) -> Detail {
    let features: Vec<&Feature> = features.into_iter().collect();
    let measure = |(tolerance, decimals): (f64, u8)| Detail {
        tolerance,
        decimals,
        bytes: path_bytes(layer, frame, &features, tolerance, decimals),
    };
    let (mut low, mut high) = (0, LEVELS.len() - 1);
    let mut best = measure(LEVELS[high]);
    if best.bytes > budget_bytes {
        return best;
    }
    // Invariant: level `high` fits (and is `best`); levels below `low` do not.
    while low < high {
        let middle = (low + high) / 2;
        let detail = measure(LEVELS[middle]);
        if detail.bytes <= budget_bytes {
            high = middle;
            best = detail;
        } else {
            low = middle + 1;
        }
    }
    best
}

/// Total path data for `features` at one detail level.
pub fn path_bytes(
    layer: &Layer,
    frame: &Frame,
    features: &[&Feature],
    tolerance: f64,
    decimals: u8,
) -> usize {
    let mut encoder = PathEncoder::new(layer, frame, tolerance, decimals);
    features.iter().map(|f| encoder.feature_path(f).len()).sum()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::{Projection, Topo};
    use super::*;

    /// Parses path data made of `m M l h v z` (what the encoder writes) back into
    /// rings of absolute points.
    pub(crate) fn parse_path(d: &str) -> Vec<Vec<(f64, f64)>> {
        let mut tokens: Vec<Result<char, f64>> = Vec::new();
        let bytes = d.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i] as char;
            if c.is_ascii_alphabetic() {
                tokens.push(Ok(c));
                i += 1;
            } else if c == ' ' || c == ',' {
                i += 1;
            } else {
                let start = i;
                i += 1;
                let mut dot = c == '.';
                while i < bytes.len() {
                    let c = bytes[i] as char;
                    if c.is_ascii_digit() || (c == '.' && !dot) {
                        dot |= c == '.';
                        i += 1;
                    } else {
                        break;
                    }
                }
                tokens.push(Err(d[start..i].parse().unwrap()));
            }
        }
        let mut rings = Vec::new();
        let mut ring: Vec<(f64, f64)> = Vec::new();
        let (mut x, mut y) = (0.0, 0.0);
        let (mut sx, mut sy) = (0.0, 0.0);
        let mut command = ' ';
        let mut first = true;
        let mut k = 0;
        let next = |k: &mut usize| -> f64 {
            let v = tokens[*k].unwrap_err();
            *k += 1;
            v
        };
        while k < tokens.len() {
            if let Ok(c) = tokens[k] {
                command = c;
                k += 1;
                if c == 'z' {
                    rings.push(std::mem::take(&mut ring));
                    x = sx;
                    y = sy;
                }
                if c != 'z' && c != 'm' && c != 'M' {
                    continue;
                }
                if c == 'z' {
                    continue;
                }
            }
            match command {
                'm' | 'M' => {
                    let (a, b) = (next(&mut k), next(&mut k));
                    if command == 'M' || first {
                        (x, y) = (a, b);
                    } else {
                        (x, y) = (x + a, y + b);
                    }
                    first = false;
                    (sx, sy) = (x, y);
                    ring.push((x, y));
                    command = if command == 'm' { 'l' } else { 'L' };
                }
                'l' => {
                    x += next(&mut k);
                    y += next(&mut k);
                    ring.push((x, y));
                }
                'h' => {
                    x += next(&mut k);
                    ring.push((x, y));
                }
                'v' => {
                    y += next(&mut k);
                    ring.push((x, y));
                }
                other => panic!("unexpected command {other:?} in {d}"),
            }
        }
        rings
    }

    #[test]
    fn numbers_take_the_fewest_characters() {
        let cases = [
            (0, 0, "0"),
            (-7, 0, "-7"),
            (5, 1, ".5"),
            (-5, 1, "-.5"),
            (20, 1, "2"),
            (-20, 1, "-2"),
            (0, 2, "0"),
            (105, 2, "1.05"),
            (-1230, 2, "-12.3"),
            (7, 2, ".07"),
        ];
        for (n, d, want) in cases {
            let mut s = String::new();
            format_number(n, d, &mut s);
            assert_eq!(s, want, "{n} at {d}");
        }
        assert!(!needs_separator(Some(false), "-3"));
        assert!(!needs_separator(Some(true), ".5"));
        assert!(needs_separator(Some(false), ".5"));
        assert!(needs_separator(Some(false), "3"));
        assert!(!needs_separator(None, "3"));
    }

    #[test]
    fn ring_cleaning_drops_repeats_straight_points_and_spikes() {
        let ring = vec![
            [0, 0],
            [5, 0],
            [10, 0],
            [10, 0],
            [10, 10],
            [10, 14],
            [10, 12],
            [0, 12],
            [0, 5],
            [0, 0],
        ];
        assert_eq!(clean_ring(ring), vec![[0, 0], [10, 0], [10, 12], [0, 12]]);
        let cleaned = clean_ring(vec![[0, 0], [10, 0], [10, 12], [0, 12], [0, 0]]);
        assert_eq!(cleaned, vec![[0, 0], [10, 0], [10, 12], [0, 12]]);
        // Seam: start in the middle of an edge.
        let cleaned = clean_ring(vec![[5, 0], [10, 0], [10, 12], [0, 12], [0, 0], [5, 0]]);
        assert_eq!(cleaned.len(), 4, "{cleaned:?}");
        // A degenerate ring keeps one point.
        assert_eq!(clean_ring(vec![[1, 1], [2, 2], [3, 3], [1, 1]]).len(), 1);
    }

    /// A 3×2 grid of 1°×1° cells between 20–23°E and 58–60°N, wound clockwise (as
    /// topojson-server writes), with all interior borders shared.
    pub(crate) fn grid() -> (Topo, Vec<Polygon>) {
        // Arcs as single segments between lattice nodes; each cell's ring refers to
        // its four edges. Horizontal edge (i, j) runs east from (20+i, 58+j); vertical
        // edge (i, j) runs north from (20+i, 58+j).
        let mut arcs = Vec::new();
        let mut horizontal = std::collections::HashMap::new();
        let mut vertical = std::collections::HashMap::new();
        for j in 0..=2 {
            for i in 0..3 {
                horizontal.insert((i, j), arcs.len() as i64);
                let (x, y) = (20.0 + i as f64, 58.0 + j as f64);
                arcs.push(vec![
                    [x, y],
                    [x + 0.5, y + 0.01 * (i + j) as f64],
                    [x + 1.0, y],
                ]);
            }
        }
        for j in 0..2 {
            for i in 0..=3 {
                vertical.insert((i, j), arcs.len() as i64);
                let (x, y) = (20.0 + i as f64, 58.0 + j as f64);
                arcs.push(vec![[x, y], [x, y + 1.0]]);
            }
        }
        let mut polygons = Vec::new();
        for j in 0..2 {
            for i in 0..3 {
                // Clockwise with north up: west edge north, north edge east, east edge
                // south, south edge west.
                polygons.push(Polygon {
                    rings: vec![vec![
                        vertical[&(i, j)],
                        horizontal[&(i, j + 1)],
                        !vertical[&(i + 1, j)],
                        !horizontal[&(i, j)],
                    ]],
                });
            }
        }
        (Topo::new(arcs), polygons)
    }

    #[test]
    fn paths_round_trip_to_the_projected_points() {
        let (topo, polygons) = grid();
        let bbox = [20.0, 58.0, 23.0, 60.0];
        let frame = Frame::fit(Projection::lambert_for(bbox), bbox, 300.0, 4.0);
        for decimals in [0, 1, 2] {
            let mut encoder = PathEncoder::new(&topo, &frame, 0.0, decimals);
            let scale = 10f64.powi(i32::from(decimals));
            for polygon in &polygons {
                let d = encoder.path(std::slice::from_ref(polygon));
                let parsed = parse_path(&d);
                assert_eq!(parsed.len(), 1, "{d}");
                let drawn = encoder.ring_points(&polygon.rings[0]);
                assert_eq!(parsed[0].len(), drawn.len(), "{d}");
                for (a, b) in parsed[0].iter().zip(&drawn) {
                    assert!((a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9, "{d}");
                }
                // And the drawn points are the projected source points, rounded.
                for &(x, y) in &drawn {
                    let near = topo
                        .ring_points(&polygon.rings[0])
                        .iter()
                        .any(|&[lon, lat]| {
                            let (px, py) = frame.point(lon, lat);
                            (px - x).abs() <= 0.5 / scale + 1e-9
                                && (py - y).abs() <= 0.5 / scale + 1e-9
                        });
                    assert!(near, "{x},{y} is not a source point");
                }
            }
        }
    }

    #[test]
    fn neighbours_share_their_border_points_exactly() {
        let (topo, polygons) = grid();
        let bbox = [20.0, 58.0, 23.0, 60.0];
        let frame = Frame::fit(Projection::lambert_for(bbox), bbox, 120.0, 2.0);
        let mut encoder = PathEncoder::new(&topo, &frame, 1.5, 0);
        let west: Vec<(f64, f64)> = parse_path(&encoder.path(&polygons[0..1])).concat();
        let east: Vec<(f64, f64)> = parse_path(&encoder.path(&polygons[1..2])).concat();
        // The shared edge's endpoints are drawn identically by both cells.
        let shared: Vec<_> = west.iter().filter(|p| east.contains(p)).collect();
        assert_eq!(shared.len(), 2, "{west:?} {east:?}");
    }

    #[test]
    fn paths_are_compact_relative_and_north_up() {
        let (topo, polygons) = grid();
        let bbox = [20.0, 58.0, 23.0, 60.0];
        let frame = Frame::fit(Projection::equirectangular_for(bbox), bbox, 100.0, 0.0);
        let mut encoder = PathEncoder::new(&topo, &frame, 0.5, 0);
        let d = encoder.path(&polygons[0..1]);
        assert!(d.starts_with('m') && d.ends_with('z'), "{d}");
        assert!(
            !d.contains("  ") && !d.contains(" -") && !d.contains(","),
            "{d}"
        );
        // The south-west cell sits in the bottom-left corner of the frame.
        let ring = &parse_path(&d)[0];
        let (_, height) = frame.view_box();
        assert!(
            ring.iter()
                .all(|&(x, y)| x <= 34.0 && y >= height / 2.0 - 1.0),
            "{d}"
        );
        // Whole-map dissolve draws one ring around the grid.
        let outline = topo.dissolve(&polygons);
        let d = encoder.path(&outline);
        assert_eq!(parse_path(&d).len(), 1, "{d}");
    }

    #[test]
    fn tiny_rings_are_dropped_but_a_feature_keeps_its_largest() {
        let (topo, polygons) = grid();
        let bbox = [20.0, 58.0, 23.0, 60.0];
        let frame = Frame::fit(Projection::equirectangular_for(bbox), bbox, 100.0, 0.0);
        // Cells are about 33 × 65 units: a 3000 unit² minimum drops each alone...
        let mut encoder = PathEncoder::new(&topo, &frame, 0.0, 0).with_min_area(3000.0);
        let two = vec![polygons[0].clone(), polygons[4].clone()];
        assert_eq!(parse_path(&encoder.path(&two)).len(), 1);
        // ...but one always stays, even collapsed to a dot.
        let tiny_frame = Frame::fit(Projection::equirectangular_for(bbox), bbox, 1.0, 0.0);
        let mut tiny = PathEncoder::new(&topo, &tiny_frame, 0.0, 0);
        let d = tiny.path(&polygons[0..1]);
        assert!(!d.is_empty());
        assert_eq!(parse_path(&d).len(), 1, "{d}");
    }
}
