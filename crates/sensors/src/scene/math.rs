/// A 3-vector.
pub type V3 = [f64; 3];

pub(super) fn add(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}
pub(super) fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
pub(super) fn scale(a: V3, s: f64) -> V3 {
    [a[0] * s, a[1] * s, a[2] * s]
}
pub(super) fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
pub(super) fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
pub(super) fn norm(a: V3) -> f64 {
    dot(a, a).sqrt()
}
pub(super) fn normalize(a: V3) -> V3 {
    let n = norm(a);
    if n > 0.0 {
        scale(a, 1.0 / n)
    } else {
        a
    }
}

/// A rigid pose: position (m) and unit quaternion (w, x, y, z).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pose {
    /// Position in m.
    pub p: V3,
    /// Orientation (w, x, y, z), unit length.
    pub q: [f64; 4],
}

impl Pose {
    /// The identity pose.
    pub const IDENTITY: Pose = Pose {
        p: [0.0; 3],
        q: [1.0, 0.0, 0.0, 0.0],
    };

    /// A pose from 7 numbers x, y, z, qw, qx, qy, qz; a zero quaternion (no data yet) becomes identity.
    pub fn from_slice(v: &[f64]) -> Pose {
        let q = [v[3], v[4], v[5], v[6]];
        let n = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]).sqrt();
        Pose {
            p: [v[0], v[1], v[2]],
            q: if n > 1e-12 && n.is_finite() {
                [q[0] / n, q[1] / n, q[2] / n, q[3] / n]
            } else {
                [1.0, 0.0, 0.0, 0.0]
            },
        }
    }

    /// Rotates a vector by the pose's orientation.
    pub fn rotate(&self, v: V3) -> V3 {
        let w = self.q[0];
        let u = [self.q[1], self.q[2], self.q[3]];
        let t = scale(cross(u, v), 2.0);
        add(add(v, scale(t, w)), cross(u, t))
    }

    /// Rotates a vector by the inverse orientation.
    pub fn unrotate(&self, v: V3) -> V3 {
        let inv = Pose {
            p: [0.0; 3],
            q: [self.q[0], -self.q[1], -self.q[2], -self.q[3]],
        };
        inv.rotate(v)
    }

    /// `self * other` (other expressed in self's frame).
    pub fn compose(&self, other: &Pose) -> Pose {
        let (a, b) = (self.q, other.q);
        Pose {
            p: add(self.p, self.rotate(other.p)),
            q: [
                a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3],
                a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2],
                a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1],
                a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0],
            ],
        }
    }

    /// Linear interpolation of position and normalized linear interpolation of orientation (shortest arc).
    pub fn lerp(&self, other: &Pose, s: f64) -> Pose {
        let mut b = other.q;
        if self.q.iter().zip(&b).map(|(x, y)| x * y).sum::<f64>() < 0.0 {
            b = b.map(|x| -x);
        }
        let q: Vec<f64> = self
            .q
            .iter()
            .zip(&b)
            .map(|(x, y)| x + s * (y - x))
            .collect();
        let mut v = [0.0; 7];
        for (i, x) in v.iter_mut().take(3).enumerate() {
            *x = self.p[i] + s * (other.p[i] - self.p[i]);
        }
        v[3..].copy_from_slice(&q);
        Pose::from_slice(&v)
    }

    /// A point in the world frame from the pose's frame.
    pub fn apply(&self, v: V3) -> V3 {
        add(self.p, self.rotate(v))
    }

    /// A world point in the pose's frame.
    pub fn inverse_apply(&self, v: V3) -> V3 {
        self.unrotate(sub(v, self.p))
    }
}
