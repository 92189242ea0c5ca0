use super::*;

use serde::Deserialize;

/// A primitive shape, in its own frame (capsule and cylinder axes along z).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Shape {
    /// A sphere.
    Sphere {
        /// Radius in m.
        radius_m: f64,
    },
    /// A cylinder with hemispherical ends.
    Capsule {
        /// Radius in m.
        radius_m: f64,
        /// Half length of the cylindrical part in m.
        half_height_m: f64,
    },
    /// A box.
    Box {
        /// Half extents along x, y, z in m.
        half_extents_m: V3,
    },
    /// A closed cylinder.
    Cylinder {
        /// Radius in m.
        radius_m: f64,
        /// Half height in m.
        half_height_m: f64,
    },
}

impl Shape {
    /// Whether every dimension is finite and > 0.
    pub fn is_valid(&self) -> bool {
        let ok = |x: f64| x.is_finite() && x > 0.0;
        match *self {
            Shape::Sphere { radius_m } => ok(radius_m),
            Shape::Capsule {
                radius_m,
                half_height_m,
            }
            | Shape::Cylinder {
                radius_m,
                half_height_m,
            } => ok(radius_m) && ok(half_height_m),
            Shape::Box { half_extents_m } => half_extents_m.iter().all(|&h| ok(h)),
        }
    }

    /// Radius of a sphere around the local origin that holds the shape.
    pub fn bounding_radius(&self) -> f64 {
        match *self {
            Shape::Sphere { radius_m } => radius_m,
            Shape::Capsule {
                radius_m,
                half_height_m,
            } => radius_m + half_height_m,
            Shape::Cylinder {
                radius_m,
                half_height_m,
            } => radius_m.hypot(half_height_m),
            Shape::Box { half_extents_m } => norm(half_extents_m),
        }
    }

    /// Half extents of the shape's bounding box in its own frame.
    pub fn local_half_extents(&self) -> V3 {
        match *self {
            Shape::Sphere { radius_m } => [radius_m; 3],
            Shape::Capsule {
                radius_m,
                half_height_m,
            } => [radius_m, radius_m, radius_m + half_height_m],
            Shape::Cylinder {
                radius_m,
                half_height_m,
            } => [radius_m, radius_m, half_height_m],
            Shape::Box { half_extents_m } => half_extents_m,
        }
    }

    /// Signed distance (negative inside; exact for sphere and capsule, a bound elsewhere).
    pub fn signed_distance(&self, p: V3) -> f64 {
        match *self {
            Shape::Sphere { radius_m } => norm(p) - radius_m,
            Shape::Capsule {
                radius_m,
                half_height_m,
            } => {
                let z = p[2].clamp(-half_height_m, half_height_m);
                norm([p[0], p[1], p[2] - z]) - radius_m
            }
            Shape::Cylinder {
                radius_m,
                half_height_m,
            } => (p[0].hypot(p[1]) - radius_m).max(p[2].abs() - half_height_m),
            Shape::Box { half_extents_m: h } => (0..3)
                .map(|i| p[i].abs() - h[i])
                .fold(f64::NEG_INFINITY, f64::max),
        }
    }

    /// First hit of the ray `o + t d` (local frame, `d` unit) with `t > T_MIN`: (t, outward normal).
    pub fn intersect(&self, o: V3, d: V3) -> Option<(f64, V3)> {
        match *self {
            Shape::Sphere { radius_m } => sphere_hit(o, d, [0.0; 3], radius_m),
            Shape::Box { half_extents_m: h } => {
                let (mut t_near, mut t_far) = (f64::NEG_INFINITY, f64::INFINITY);
                let (mut ax_near, mut ax_far) = (0, 0);
                for i in 0..3 {
                    if d[i].abs() < 1e-15 {
                        if o[i].abs() > h[i] {
                            return None;
                        }
                        continue;
                    }
                    let t1 = (-h[i] - o[i]) / d[i];
                    let t2 = (h[i] - o[i]) / d[i];
                    let (lo, hi) = if t1 < t2 { (t1, t2) } else { (t2, t1) };
                    if lo > t_near {
                        t_near = lo;
                        ax_near = i;
                    }
                    if hi < t_far {
                        t_far = hi;
                        ax_far = i;
                    }
                }
                if t_near > t_far || t_far <= T_MIN {
                    return None;
                }
                let (t, ax, sign) = if t_near > T_MIN {
                    (t_near, ax_near, -d[ax_near].signum())
                } else {
                    (t_far, ax_far, d[ax_far].signum())
                };
                let mut n = [0.0; 3];
                n[ax] = sign;
                Some((t, n))
            }
            Shape::Cylinder {
                radius_m,
                half_height_m,
            } => {
                let mut best = side_hit(o, d, radius_m, half_height_m);
                if d[2].abs() > 1e-15 {
                    for z0 in [-half_height_m, half_height_m] {
                        let t = (z0 - o[2]) / d[2];
                        if t > T_MIN && best.is_none_or(|(b, _)| t < b) {
                            let (x, y) = (o[0] + t * d[0], o[1] + t * d[1]);
                            if x * x + y * y <= radius_m * radius_m {
                                best = Some((t, [0.0, 0.0, z0.signum()]));
                            }
                        }
                    }
                }
                best
            }
            Shape::Capsule {
                radius_m,
                half_height_m,
            } => {
                let mut best = side_hit(o, d, radius_m, half_height_m);
                for z0 in [-half_height_m, half_height_m] {
                    if let Some((t, n)) = sphere_hit(o, d, [0.0, 0.0, z0], radius_m) {
                        if best.is_none_or(|(b, _)| t < b) {
                            best = Some((t, n));
                        }
                    }
                }
                best
            }
        }
    }
}

pub(super) const T_MIN: f64 = 1e-9;

pub(super) fn sphere_hit(o: V3, d: V3, c: V3, r: f64) -> Option<(f64, V3)> {
    let oc = sub(o, c);
    let b = dot(oc, d);
    let disc = b * b - (dot(oc, oc) - r * r);
    if disc < 0.0 {
        return None;
    }
    let s = disc.sqrt();
    let t = if -b - s > T_MIN { -b - s } else { -b + s };
    if t <= T_MIN {
        return None;
    }
    Some((t, scale(sub(add(o, scale(d, t)), c), 1.0 / r)))
}

/// The side of a z-axis cylinder of radius `r` between z = -h and h.
pub(super) fn side_hit(o: V3, d: V3, r: f64, h: f64) -> Option<(f64, V3)> {
    let a = d[0] * d[0] + d[1] * d[1];
    if a < 1e-15 {
        return None;
    }
    let b = o[0] * d[0] + o[1] * d[1];
    let c = o[0] * o[0] + o[1] * o[1] - r * r;
    let disc = b * b - a * c;
    if disc < 0.0 {
        return None;
    }
    let s = disc.sqrt();
    for t in [(-b - s) / a, (-b + s) / a] {
        if t > T_MIN && (o[2] + t * d[2]).abs() <= h {
            let p = add(o, scale(d, t));
            return Some((t, [p[0] / r, p[1] / r, 0.0]));
        }
    }
    None
}

/// A solid texture: the albedo factor at a point of the object's (or plane's) frame.
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Texture {
    /// Uniform albedo.
    #[default]
    Uniform,
    /// A 3-D checkerboard of cubes of side `period_m`: albedo times (1 +- contrast).
    Checker {
        /// Side of a cube in m.
        period_m: f64,
        /// Michelson contrast 0..1.
        contrast: f64,
    },
    /// Stripes across local `axis` (0 = x, 1 = y, 2 = z) with period `period_m`: albedo times (1 +- contrast).
    Stripes {
        /// Period in m.
        period_m: f64,
        /// Michelson contrast 0..1.
        contrast: f64,
        /// Local axis across which the stripes alternate.
        axis: usize,
    },
}

impl Texture {
    pub(super) fn factor(&self, p: V3) -> f64 {
        match *self {
            Texture::Uniform => 1.0,
            Texture::Checker { period_m, contrast } => {
                let k: i64 = p.iter().map(|c| (c / period_m).floor() as i64).sum();
                if k.rem_euclid(2) == 0 {
                    1.0 + contrast
                } else {
                    1.0 - contrast
                }
            }
            Texture::Stripes {
                period_m,
                contrast,
                axis,
            } => {
                if (p[axis] / period_m).floor().rem_euclid(2.0) == 0.0 {
                    1.0 + contrast
                } else {
                    1.0 - contrast
                }
            }
        }
    }

    /// Whether the parameters make sense.
    pub fn is_valid(&self) -> bool {
        match *self {
            Texture::Uniform => true,
            Texture::Checker { period_m, contrast } => {
                period_m > 0.0 && period_m.is_finite() && (0.0..=1.0).contains(&contrast)
            }
            Texture::Stripes {
                period_m,
                contrast,
                axis,
            } => {
                period_m > 0.0
                    && period_m.is_finite()
                    && (0.0..=1.0).contains(&contrast)
                    && axis < 3
            }
        }
    }
}
