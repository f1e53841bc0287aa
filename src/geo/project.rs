//! Map projections and fitting them into an SVG viewBox.

/// How lon/lat become plane coordinates (unit sphere, y pointing north).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Projection {
    /// Plate carrée with longitudes shrunk by cos(`lat0`): true shapes near latitude
    /// `lat0`, simple and good enough for one country.
    Equirectangular {
        /// Central meridian, degrees.
        lon0: f64,
        /// Latitude of true scale, degrees.
        lat0: f64,
    },
    /// Lambert azimuthal equal-area centred on (`lon0`, `lat0`): areas stay true and
    /// shapes stay good across a continent (the Europe-wide LAEA, EPSG:3035, is
    /// centred on 10°E 52°N; see [`Projection::EUROPE`]).
    LambertAzimuthalEqualArea {
        /// Longitude of the centre, degrees.
        lon0: f64,
        /// Latitude of the centre, degrees.
        lat0: f64,
    },
}

impl Projection {
    /// The projection of the Europe overview map (the centre of EPSG:3035).
    pub const EUROPE: Projection = Projection::LambertAzimuthalEqualArea {
        lon0: 10.0,
        lat0: 52.0,
    };

    /// An equirectangular projection true to scale at the middle of `bbox`
    /// (`[west, south, east, north]`).
    pub fn equirectangular_for(bbox: [f64; 4]) -> Projection {
        Projection::Equirectangular {
            lon0: (bbox[0] + bbox[2]) / 2.0,
            lat0: (bbox[1] + bbox[3]) / 2.0,
        }
    }

    /// A Lambert azimuthal equal-area projection centred on `bbox`.
    pub fn lambert_for(bbox: [f64; 4]) -> Projection {
        Projection::LambertAzimuthalEqualArea {
            lon0: (bbox[0] + bbox[2]) / 2.0,
            lat0: (bbox[1] + bbox[3]) / 2.0,
        }
    }

    /// Projects lon/lat degrees to the plane (unit sphere radians, y up).
    pub fn project(&self, lon: f64, lat: f64) -> [f64; 2] {
        match *self {
            Projection::Equirectangular { lon0, lat0 } => [
                (lon - lon0).to_radians() * lat0.to_radians().cos(),
                lat.to_radians(),
            ],
            Projection::LambertAzimuthalEqualArea { lon0, lat0 } => {
                let (sin_phi, cos_phi) = lat.to_radians().sin_cos();
                let (sin_phi0, cos_phi0) = lat0.to_radians().sin_cos();
                let (sin_dl, cos_dl) = (lon - lon0).to_radians().sin_cos();
                let denominator = 1.0 + sin_phi0 * sin_phi + cos_phi0 * cos_phi * cos_dl;
                // Only the antipode of the centre is singular; clamping keeps a stray
                // point finite instead of poisoning a bbox with infinities.
                let k = (2.0 / denominator.max(1e-12)).sqrt();
                [
                    k * cos_phi * sin_dl,
                    k * (cos_phi0 * sin_phi - sin_phi0 * cos_phi * cos_dl),
                ]
            }
        }
    }
}

/// A projection fitted into an SVG viewBox `0 0 width height`, y growing downwards
/// (north up, as on paper).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    projection: Projection,
    /// viewBox units per projected unit.
    scale: f64,
    /// Projected x shown at the left padding edge.
    x_min: f64,
    /// Projected y shown at the top padding edge.
    y_max: f64,
    padding: f64,
    width: f64,
    height: f64,
}

impl Frame {
    /// Fits `bbox` (`[west, south, east, north]`, degrees) to `width` viewBox units
    /// with `padding` on every side; the height follows from the shape, rounded up to
    /// a whole unit.
    pub fn fit(projection: Projection, bbox: [f64; 4], width: f64, padding: f64) -> Frame {
        let extent = projected_extent(projection, bbox);
        let (dx, dy) = (extent[2] - extent[0], extent[3] - extent[1]);
        let inner = (width - 2.0 * padding).max(1.0);
        let scale = if dx > 0.0 {
            inner / dx
        } else if dy > 0.0 {
            inner / dy
        } else {
            1.0
        };
        Frame {
            projection,
            scale,
            x_min: extent[0],
            y_max: extent[3],
            padding,
            width,
            height: (dy * scale + 2.0 * padding).ceil(),
        }
    }

    /// Like [`Frame::fit`], but a tall shape (Norway, Portugal with its islands) is
    /// scaled down to at most `max_height`, which narrows the frame instead.
    pub fn fit_within(
        projection: Projection,
        bbox: [f64; 4],
        max_width: f64,
        max_height: f64,
        padding: f64,
    ) -> Frame {
        let mut frame = Frame::fit(projection, bbox, max_width, padding);
        if frame.height > max_height {
            let extent = projected_extent(projection, bbox);
            let dy = extent[3] - extent[1];
            let inner = (max_height - 2.0 * padding).max(1.0);
            frame.scale = inner / dy;
            frame.height = max_height;
            frame.width = ((extent[2] - extent[0]) * frame.scale + 2.0 * padding).ceil();
        }
        frame
    }

    /// The viewBox size `(width, height)`; the viewBox origin is `0 0`.
    pub fn view_box(&self) -> (f64, f64) {
        (self.width, self.height)
    }

    /// The projection in use.
    pub fn projection(&self) -> Projection {
        self.projection
    }

    /// viewBox units per projected unit (about per radian of great circle).
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Where lon/lat lands in the viewBox.
    pub fn point(&self, lon: f64, lat: f64) -> (f64, f64) {
        let [x, y] = self.projection.project(lon, lat);
        (
            (x - self.x_min) * self.scale + self.padding,
            (self.y_max - y) * self.scale + self.padding,
        )
    }
}

/// The projected extent of a lon/lat box, from points along its edges: under an
/// azimuthal projection a parallel bulges, so the corners alone would cut it off.
fn projected_extent(projection: Projection, bbox: [f64; 4]) -> [f64; 4] {
    const STEPS: usize = 64;
    let [west, south, east, north] = bbox;
    let mut extent = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for i in 0..=STEPS {
        let t = i as f64 / STEPS as f64;
        let lon = west + (east - west) * t;
        let lat = south + (north - south) * t;
        for (lo, la) in [(lon, south), (lon, north), (west, lat), (east, lat)] {
            let [x, y] = projection.project(lo, la);
            extent = [
                extent[0].min(x),
                extent[1].min(y),
                extent[2].max(x),
                extent[3].max(y),
            ];
        }
    }
    extent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_puts_north_up_and_west_left() {
        let bbox = [21.0, 57.0, 28.0, 60.0];
        for projection in [
            Projection::equirectangular_for(bbox),
            Projection::lambert_for(bbox),
        ] {
            let frame = Frame::fit(projection, bbox, 1000.0, 10.0);
            let (w, h) = frame.view_box();
            assert_eq!(w, 1000.0);
            assert!(h > 300.0 && h < 1000.0, "{h}");
            let (x_nw, y_nw) = frame.point(21.0, 60.0);
            let (x_se, y_se) = frame.point(28.0, 57.0);
            assert!(x_nw < x_se && y_nw < y_se);
            // Everything inside the padded box.
            for (lon, lat) in [(21.0, 57.0), (28.0, 60.0), (24.5, 60.0), (24.5, 57.0)] {
                let (x, y) = frame.point(lon, lat);
                assert!(
                    (9.0..=991.0).contains(&x) && (9.0..=h - 9.0).contains(&y),
                    "{x} {y}"
                );
            }
        }
    }

    #[test]
    fn equirectangular_shrinks_longitude_by_cos_lat() {
        let p = Projection::Equirectangular {
            lon0: 0.0,
            lat0: 60.0,
        };
        let [x, y] = p.project(2.0, 1.0);
        assert!((x - 1.0_f64.to_radians()).abs() < 1e-12);
        assert!((y - 1.0_f64.to_radians()).abs() < 1e-12);
    }

    #[test]
    fn lambert_is_equal_area() {
        // A 1°×1° cell at the centre and one far away have their spherical area.
        let p = Projection::EUROPE;
        for (lon, lat) in [(10.0, 52.0), (-20.0, 35.0), (40.0, 68.0)] {
            let corners = [
                (lon, lat),
                (lon + 1.0, lat),
                (lon + 1.0, lat + 1.0),
                (lon, lat + 1.0),
            ];
            let mut ring: Vec<[f64; 2]> = Vec::new();
            for k in 0..4 {
                let (a, b) = (corners[k], corners[(k + 1) % 4]);
                for s in 0..50 {
                    let t = s as f64 / 50.0;
                    ring.push(p.project(a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t));
                }
            }
            ring.push(ring[0]);
            let area = super::super::signed_area(&ring).abs();
            let sphere =
                1.0_f64.to_radians() * ((lat + 1.0).to_radians().sin() - lat.to_radians().sin());
            assert!(
                (area / sphere - 1.0).abs() < 1e-3,
                "{lon} {lat}: {area} vs {sphere}"
            );
        }
    }

    #[test]
    fn fit_within_narrows_tall_shapes() {
        let bbox = [4.0, 57.0, 31.0, 71.5];
        let frame = Frame::fit_within(Projection::lambert_for(bbox), bbox, 1000.0, 800.0, 5.0);
        let (w, h) = frame.view_box();
        assert_eq!(h, 800.0);
        assert!(w <= 1000.0);
    }
}
