//! The camera's scene and a headless CPU ray caster for it.
//!
//! A scene is a list of primitive shapes (sphere, capsule, box, cylinder), each attached to a body of
//! the body engine's `body_poses` output (or static in the world), plus infinite planes for the
//! background (table, wall) and a directional light. Each pixel is the mean of `supersampling`^2 rays
//! (pinhole camera); a ray's value is Lambert shading, `irradiance * albedo * (ambient + (1 - ambient)
//! max(0, -n . light_direction))`, with the albedo of a solid texture evaluated in the object's own
//! frame (so textures move with their object). No shadows, no reflections.
//!
//! `bodies` is the body order of `body_poses`; an object's `body` names one of them;
//! `position_m`/`orientation` (w, x, y, z) place the shape in that body's frame (or in the world if
//! `body` is absent). Capsules and cylinders have their axis along local z. The bodies and their
//! objects normally come from the body engine's world file ([`SceneConfig::add_world`]: every collision
//! shape and every `[[bodies.visuals]]` shape of every body), so the camera sees the geometry the
//! physics simulates; planes, light and extra objects are the camera's own.
//!
//! Static geometry (planes and objects without a body) is rendered once into a cache while the camera
//! does not move; each frame then ray-casts only the pixels inside the screen bounds of each moving
//! object.

mod config;
mod geometry;
mod math;
mod render;

pub use config::*;
pub use geometry::*;
pub use math::*;
pub use render::*;

#[cfg(test)]
mod tests;
