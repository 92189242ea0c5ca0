//! A rigid transform in f64 (rapier's own poses are f32; the muscle and kinematics code works in f64).

use rapier3d::glamx::{DQuat, DVec3};

/// A rotation followed by a translation: p -> rotation * p + translation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DPose3 {
    /// Rotation (unit quaternion).
    pub rotation: DQuat,
    /// Translation, m.
    pub translation: DVec3,
}

impl DPose3 {
    /// The identity.
    pub const IDENTITY: DPose3 = DPose3 {
        rotation: DQuat::IDENTITY,
        translation: DVec3::ZERO,
    };

    /// From a translation and a rotation.
    pub fn from_parts(translation: DVec3, rotation: DQuat) -> Self {
        DPose3 {
            rotation,
            translation,
        }
    }

    /// The inverse transform.
    pub fn inverse(&self) -> Self {
        let r = self.rotation.inverse();
        DPose3 {
            rotation: r,
            translation: -(r * self.translation),
        }
    }

    /// Maps a point.
    pub fn transform_point(&self, p: DVec3) -> DVec3 {
        self.rotation * p + self.translation
    }

    /// Maps a point by the inverse transform.
    pub fn inverse_transform_point(&self, p: DVec3) -> DVec3 {
        self.rotation.inverse() * (p - self.translation)
    }
}

impl std::ops::Mul for DPose3 {
    type Output = DPose3;
    fn mul(self, rhs: DPose3) -> DPose3 {
        DPose3 {
            rotation: self.rotation * rhs.rotation,
            translation: self.rotation * rhs.translation + self.translation,
        }
    }
}
