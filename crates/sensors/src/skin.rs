//! Tactile skin: taxels on the paw pads and digits, pressure from contact points through a spatial
//! spread kernel, SA-I / RA-I (/ PC) afferents with leaky integrate-and-fire encoders, and a
//! send-on-delta event stream.
//!
//! Model:
//! - Pressure at taxel `j` (kPa): `p_j = sum_c F_c exp(-r_jc^2 / (2 sigma^2)) / (2 pi sigma^2)`, over the
//!   contacts `c` on the taxel's own shape (`r_jc` the distance in the paw frame, `sigma =
//!   spread_sigma_m`), so the kernel integrates to the contact force.
//! - Afferent drive (TouchSim, Saal et al., PNAS 2017): `I = k_s [s]+ + k_ds_pos [ds]+ + k_ds_neg [-ds]+ +
//!   k_dds_pos [dds]+ + k_dds_neg [-dds]+ + noise`, `s` in kPa, `ds` in kPa/ms, `dds` in kPa/ms^2, then
//!   saturated `I <- I_s I / (I_s + |I|)`, into a leaky integrate-and-fire unit
//!   ([`LifPopulation`]) at `dt_ms` (default 0.2 ms, 5 kHz as TouchSim). SA-I is driven by `s` (k_s), RA-I
//!   by `|ds|`, PC by `|dds|`. One afferent of each class per taxel.
//! - Send-on-delta (Janotte et al., ERCIM News 2021): a taxel emits an event each time its pressure has
//!   moved by `delta_kpa` from its value at its previous event (ON up, OFF down), the time interpolated
//!   linearly; idle when nothing changes.
//!
//! Layout: the body engine's world (`world_file`, the same file as the body's; by default the world
//! compiled into `neuroloop-body`) gives `shapes`, its collision shapes in the order the body numbers
//! them on `contacts`, and the default `surfaces`, taxels on every collision shape of the paw body
//! (`joystick.paw_body`) in the paw frame, at 0.2 mm on balls and 0.1 mm on capsules (denser at the
//! digits), see [`SkinConfig::from_world`]. `surfaces`, `patches` and `taxels` given in the
//! configuration replace or add to that layout; their shapes must be among `shapes` (the world's,
//! unless `shapes` is given by hand, which `world_file` does not allow).
//!
//! Timing: the `contacts` input of a step is the body's state at the step's start; the skin ramps the
//! pressure linearly from the previous to the current value over the step (one sync step of lag, no
//! extrapolation), so `ds` is constant within a step.
//!
//! Ports: in `contacts` (see [`CONTACT_FIELDS`]); out `sa1`, `ra1` (spikes, one neuron per taxel), `pc`
//! (if configured), `events` (`n_taxels` x 1 sensor: x = taxel index, y = 0), `pressure` (analog, kPa
//! per taxel).

use std::path::{Path, PathBuf};

use neuroloop_body::world::{ShapeFrame, ShapeKind, WorldSpec};
use neuroloop_core::engine::{Engine, EngineError, InitContext, Inputs, Outputs, StepContext};
use neuroloop_core::port::{PortKind, PortSpec};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64;
use serde::Deserialize;

use crate::afferents::{Afferent, AfferentMap};
use crate::encoder::LifPopulation;
use crate::engine_config::{config_error, given, load_world_instead_of, substeps, substeps_at_run};
use crate::scene::V3;
use neuroloop_core::engine::require;

/// Fields of one contact slot of the body's `contacts` port, in order (name suffix, unit). The layout
/// of the body engine's output is read in one place, [`parse_contacts`]; adjust both if it changes.
pub const CONTACT_FIELDS: [(&str, &str); 5] = [
    ("shape", "1"),
    ("x", "m"),
    ("y", "m"),
    ("z", "m"),
    ("normal_force_n", "N"),
];

/// One contact read from the `contacts` port.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Contact {
    /// Index of the touched collision shape in `shapes` (0-based).
    pub shape: usize,
    /// Contact point in the paw frame, m.
    pub point_m: V3,
    /// Normal force, N.
    pub force_n: f64,
}

/// Reads the contact slots of the body engine's `contacts` port into `out`: per slot the 1-based index
/// of the touched shape in the world's shape order (0 = unused slot), the contact point in the paw body
/// frame (m) and the normal force (N). Errors name the slot.
pub fn parse_contacts(x: &[f64], n_shapes: usize, out: &mut Vec<Contact>) -> Result<(), String> {
    out.clear();
    for (slot, c) in x.chunks_exact(CONTACT_FIELDS.len()).enumerate() {
        let k = c[0];
        if k == 0.0 {
            continue;
        }
        let force_n = c[4];
        if !c.iter().all(|v| v.is_finite()) || force_n < 0.0 {
            return Err(format!(
                "contact slot {slot} holds a non-finite value or a negative force"
            ));
        }
        if k < 1.0 || k.fract() != 0.0 || k as usize > n_shapes {
            return Err(format!(
                "contact slot {slot}: shape index {k} is not one of the {n_shapes} shapes (1-based)"
            ));
        }
        out.push(Contact {
            shape: k as usize - 1,
            point_m: [c[1], c[2], c[3]],
            force_n,
        });
    }
    Ok(())
}

/// Taxels covering the surface of a collision shape (given as in the body's world file, in the paw
/// body frame), on a near-uniform grid of the given spacing.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurfaceConfig {
    /// Shape the taxels lie on, one of `shapes`; taxels are called `<shape><k>`.
    pub shape: String,
    /// `ball` (centre `a_m`) or `capsule` (segment `a_m`-`b_m`).
    pub kind: SurfaceKind,
    /// Centre (ball) or first end of the segment (capsule) in the paw frame, m.
    pub a_m: V3,
    /// Second end of the segment (capsule), m.
    #[serde(default)]
    pub b_m: Option<V3>,
    /// Radius, m.
    pub radius_m: f64,
    /// Distance between neighbouring taxels, m.
    pub spacing_m: f64,
}

/// Shape kinds of [`SurfaceConfig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SurfaceKind {
    /// A sphere.
    Ball,
    /// A capsule.
    Capsule,
}

/// `n` points spread evenly over the unit sphere (Fibonacci lattice).
fn fibonacci_sphere(n: usize) -> Vec<V3> {
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    (0..n)
        .map(|i| {
            let z = 1.0 - 2.0 * (i as f64 + 0.5) / n as f64;
            let r = (1.0 - z * z).sqrt();
            let phi = golden * i as f64;
            [r * phi.cos(), r * phi.sin(), z]
        })
        .collect()
}

/// Orthonormal vectors perpendicular to the unit vector `n`.
fn perpendicular(n: V3) -> (V3, V3) {
    let a = if n[0].abs() < 0.9 {
        [1.0, 0.0, 0.0]
    } else {
        [0.0, 1.0, 0.0]
    };
    let d = a[0] * n[0] + a[1] * n[1] + a[2] * n[2];
    let u = [a[0] - d * n[0], a[1] - d * n[1], a[2] - d * n[2]];
    let ul = (u[0] * u[0] + u[1] * u[1] + u[2] * u[2]).sqrt();
    let u = [u[0] / ul, u[1] / ul, u[2] / ul];
    let v = [
        n[1] * u[2] - n[2] * u[1],
        n[2] * u[0] - n[0] * u[2],
        n[0] * u[1] - n[1] * u[0],
    ];
    (u, v)
}

/// Number of taxels [`surface_points`] puts on a surface, computed without placing them (as a float:
/// it may be huge for a long capsule).
fn surface_count(s: &SurfaceConfig) -> f64 {
    let cell = s.spacing_m * s.spacing_m * 3f64.sqrt() / 2.0;
    let r = s.radius_m;
    let n_sphere = (4.0 * std::f64::consts::PI * r * r / cell).ceil().max(2.0);
    let len = match (s.kind, s.b_m) {
        (SurfaceKind::Capsule, Some(b)) => {
            let d = [b[0] - s.a_m[0], b[1] - s.a_m[1], b[2] - s.a_m[2]];
            (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt()
        }
        _ => 0.0,
    };
    if len < 1e-12 {
        return n_sphere;
    }
    let n_rings = (len / (s.spacing_m * 3f64.sqrt() / 2.0)).floor();
    let n_around = (2.0 * std::f64::consts::PI * r / s.spacing_m)
        .ceil()
        .max(3.0);
    n_sphere + n_rings * n_around
}

/// Taxel positions on a ball or capsule surface.
fn surface_points(s: &SurfaceConfig) -> Vec<V3> {
    let cell = s.spacing_m * s.spacing_m * 3f64.sqrt() / 2.0;
    let r = s.radius_m;
    let n_sphere = ((4.0 * std::f64::consts::PI * r * r / cell).ceil() as usize).max(2);
    let sphere = fibonacci_sphere(n_sphere);
    let at = |c: V3, p: V3| [c[0] + r * p[0], c[1] + r * p[1], c[2] + r * p[2]];
    match (s.kind, s.b_m) {
        (SurfaceKind::Ball, _) | (SurfaceKind::Capsule, None) => {
            sphere.iter().map(|&p| at(s.a_m, p)).collect()
        }
        (SurfaceKind::Capsule, Some(b)) => {
            let d = [b[0] - s.a_m[0], b[1] - s.a_m[1], b[2] - s.a_m[2]];
            let len = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
            if len < 1e-12 {
                return sphere.iter().map(|&p| at(s.a_m, p)).collect();
            }
            let axis = [d[0] / len, d[1] / len, d[2] / len];
            let (u, v) = perpendicular(axis);
            let mut pts = Vec::new();
            // Hemispherical caps: the sphere's points on the outer side of each end.
            for &p in &sphere {
                let along = p[0] * axis[0] + p[1] * axis[1] + p[2] * axis[2];
                pts.push(if along < 0.0 { at(s.a_m, p) } else { at(b, p) });
            }
            // Cylinder: rings along the axis, alternately offset by half a spacing.
            let row = s.spacing_m * 3f64.sqrt() / 2.0;
            let n_rings = (len / row).floor() as usize;
            let n_around = ((2.0 * std::f64::consts::PI * r / s.spacing_m).ceil() as usize).max(3);
            for k in 1..=n_rings {
                let z = len * k as f64 / (n_rings + 1) as f64;
                let shift = if k % 2 == 1 { 0.5 } else { 0.0 };
                for j in 0..n_around {
                    let phi = (j as f64 + shift) * std::f64::consts::TAU / n_around as f64;
                    let (c, sn) = (phi.cos(), phi.sin());
                    pts.push([
                        s.a_m[0] + z * axis[0] + r * (c * u[0] + sn * v[0]),
                        s.a_m[1] + z * axis[1] + r * (c * u[1] + sn * v[1]),
                        s.a_m[2] + z * axis[2] + r * (c * u[2] + sn * v[2]),
                    ]);
                }
            }
            pts
        }
    }
}

/// A disc of taxels on a hexagonal grid.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchConfig {
    /// Name; taxels are called `<name><k>`.
    pub name: String,
    /// Shape it lies on, one of `shapes`.
    pub shape: String,
    /// Centre in the paw frame, m.
    pub center_m: V3,
    /// Normal of the disc (default [0, 0, -1], the palm side).
    #[serde(default = "down")]
    pub normal: V3,
    /// Radius, m.
    pub radius_m: f64,
    /// Distance between neighbouring taxels, m (small at the digit tips).
    pub spacing_m: f64,
}

fn down() -> V3 {
    [0.0, 0.0, -1.0]
}

/// One explicitly placed taxel.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxelConfig {
    /// Name.
    pub name: String,
    /// Shape it lies on, one of `shapes`.
    pub shape: String,
    /// Position in the paw frame, m.
    pub position_m: V3,
}

/// Gains and unit parameters of one afferent class (see the [module docs](self)). Keys left out of a
/// table take the values of [`AfferentConfig::default`]: every gain 0, `saturation` 10, `tau_m_ms` 10,
/// `t_ref_ms` 1, `noise_sigma` 0.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AfferentConfig {
    /// Gain on `[s]+`, per kPa.
    pub k_s: f64,
    /// Gain on `[ds]+`, per kPa/ms.
    pub k_ds_pos: f64,
    /// Gain on `[-ds]+`, per kPa/ms.
    pub k_ds_neg: f64,
    /// Gain on `[dds]+`, per kPa/ms^2.
    pub k_dds_pos: f64,
    /// Gain on `[-dds]+`, per kPa/ms^2.
    pub k_dds_neg: f64,
    /// Saturation current I_s (default 10).
    pub saturation: f64,
    /// Membrane time constant, ms (default 10).
    pub tau_m_ms: f64,
    /// Refractory period, ms (default 1).
    pub t_ref_ms: f64,
    /// Standard deviation of white input noise per internal step (default 0).
    pub noise_sigma: f64,
}

impl AfferentConfig {
    fn zero_gains() -> Self {
        AfferentConfig {
            k_s: 0.0,
            k_ds_pos: 0.0,
            k_ds_neg: 0.0,
            k_dds_pos: 0.0,
            k_dds_neg: 0.0,
            saturation: 10.0,
            tau_m_ms: 10.0,
            t_ref_ms: 1.0,
            noise_sigma: 0.0,
        }
    }

    /// SA-I defaults: k_s = 0.02 per kPa, saturation 3. With `tau_m` 10 ms and `t_ref` 1 ms the unit
    /// starts firing at 75 kPa (about 10 mN centred on a taxel with the default 0.15 mm kernel) and
    /// cannot exceed 1 / (10 ms ln(3/2) + 1 ms) = 198 Hz, so a saturating contact gives 100-200 Hz as
    /// in the Izhikevich-encoder literature (0.1 N: 707 kPa, 162 Hz).
    pub fn sa1() -> Self {
        AfferentConfig {
            k_s: 0.02,
            saturation: 3.0,
            ..Self::zero_gains()
        }
    }

    /// RA-I defaults: k_ds_pos = k_ds_neg = 0.2 per kPa/ms (fires on loading and unloading),
    /// saturation 3 (at most 198 Hz; threshold at 7.5 kPa/ms).
    pub fn ra1() -> Self {
        AfferentConfig {
            k_ds_pos: 0.2,
            k_ds_neg: 0.2,
            saturation: 3.0,
            ..Self::zero_gains()
        }
    }

    /// PC defaults: k_dds_pos = k_dds_neg = 1 per kPa/ms^2, saturation 3.
    pub fn pc() -> Self {
        AfferentConfig {
            k_dds_pos: 1.0,
            k_dds_neg: 1.0,
            saturation: 3.0,
            ..Self::zero_gains()
        }
    }

    /// The saturated drive for stimulus `s`, `ds`, `dds` (no noise).
    pub fn current(&self, s: f64, ds: f64, dds: f64) -> f64 {
        let i = self.k_s * s.max(0.0)
            + self.k_ds_pos * ds.max(0.0)
            + self.k_ds_neg * (-ds).max(0.0)
            + self.k_dds_pos * dds.max(0.0)
            + self.k_dds_neg * (-dds).max(0.0);
        self.saturation * i / (self.saturation + i.abs())
    }

    fn check(&self, ctx: &InitContext, key: &str) -> Result<(), EngineError> {
        let gains = [
            self.k_s,
            self.k_ds_pos,
            self.k_ds_neg,
            self.k_dds_pos,
            self.k_dds_neg,
        ];
        require(
            gains.iter().all(|g| *g >= 0.0 && g.is_finite()),
            ctx,
            key,
            "gains must be finite and >= 0",
        )?;
        require(
            self.saturation > 0.0,
            ctx,
            &format!("{key}.saturation"),
            "must be > 0",
        )?;
        require(
            self.tau_m_ms > 0.0,
            ctx,
            &format!("{key}.tau_m_ms"),
            "must be > 0",
        )?;
        require(
            self.t_ref_ms >= 0.0,
            ctx,
            &format!("{key}.t_ref_ms"),
            "must be >= 0",
        )?;
        require(
            self.noise_sigma >= 0.0,
            ctx,
            &format!("{key}.noise_sigma"),
            "must be >= 0",
        )
    }
}

impl Default for AfferentConfig {
    fn default() -> Self {
        Self::zero_gains()
    }
}

/// Configuration of [`Skin`].
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SkinConfig {
    /// The body engine's world file (a path relative to the experiment file): `shapes` and the default
    /// `surfaces` are taken from it (see [`SkinConfig::from_world`]). Absent: the world compiled into
    /// `neuroloop-body` (`worlds/mouse_forelimb_joystick.toml`).
    pub world_file: Option<PathBuf>,
    /// Names of the world's collision shapes in world order: a contact's 1-based shape index `k` is
    /// `shapes[k - 1]` (default: [`world_shapes`] of the world; with the shipped world `palm_pad`,
    /// `digit2` .. `digit5`, `handle`). Given by hand only without `world_file`.
    pub shapes: Vec<String>,
    /// Contact slots of the `contacts` port (default 16, the body engine's
    /// [`MAX_CONTACTS`](neuroloop_body::physics::MAX_CONTACTS)).
    pub max_contacts: u32,
    /// Taxels covering shape surfaces (default: [`paw_surfaces`] of the world, every collision shape
    /// of the paw body in its frame, balls at [`BALL_SPACING_M`] and capsules at
    /// [`CAPSULE_SPACING_M`]; with the shipped world the palm pad at 0.2 mm and the four digits at
    /// 0.1 mm, denser at the digits).
    pub surfaces: Vec<SurfaceConfig>,
    /// Flat taxel discs (default none).
    pub patches: Vec<PatchConfig>,
    /// Individually placed taxels (default none).
    pub taxels: Vec<TaxelConfig>,
    /// Spread kernel width sigma, m (default 0.15 mm).
    pub spread_sigma_m: f64,
    /// Internal step, ms; must divide the sync step (default 0.2).
    pub dt_ms: f64,
    /// SA-I afferents (default [`AfferentConfig::sa1`]). A table given here replaces the default
    /// gains: gains it leaves out are 0.
    pub sa1: AfferentConfig,
    /// RA-I afferents (default [`AfferentConfig::ra1`]; a table replaces the default gains).
    pub ra1: AfferentConfig,
    /// PC afferents (default none; see [`AfferentConfig::pc`] for suggested gains).
    pub pc: Option<AfferentConfig>,
    /// Send-on-delta step, kPa (default 10).
    pub delta_kpa: f64,
}

impl Default for SkinConfig {
    /// [`SkinConfig::from_world`] of the world compiled into `neuroloop-body`.
    fn default() -> Self {
        Self::from_world(&WorldSpec::mouse_forelimb_joystick())
    }
}

/// Default taxel spacing on the paw's balls (the palm pad), m.
pub const BALL_SPACING_M: f64 = 0.2e-3;

/// Default taxel spacing on the paw's capsules (the digits, denser than the pad), m.
pub const CAPSULE_SPACING_M: f64 = 0.1e-3;

impl SkinConfig {
    /// The default configuration for a world: `shapes` = [`world_shapes`], `surfaces` =
    /// [`paw_surfaces`], no patches or taxels, and the default afferents, kernel and timing.
    pub fn from_world(world: &WorldSpec) -> Self {
        SkinConfig {
            world_file: None,
            shapes: world_shapes(world),
            max_contacts: neuroloop_body::physics::MAX_CONTACTS as u32,
            surfaces: paw_surfaces(world),
            patches: Vec::new(),
            taxels: Vec::new(),
            spread_sigma_m: 0.15e-3,
            dt_ms: 0.2,
            sa1: AfferentConfig::sa1(),
            ra1: AfferentConfig::ra1(),
            pc: None,
            delta_kpa: 10.0,
        }
    }
}

/// The names of a world's collision shapes in world order (bodies in order, each body's shapes in
/// order): the body engine numbers the shapes of its `contacts` port 1-based in this order.
pub fn world_shapes(world: &WorldSpec) -> Vec<String> {
    world
        .bodies
        .iter()
        .flat_map(|b| b.shapes.iter().map(|s| s.name.clone()))
        .collect()
}

/// Every collision shape of the world's paw body (`joystick.paw_body`) as a taxel surface in the paw
/// body's frame (the frame of the `contacts` points): shapes given with `frame = "model"` are moved
/// into the body frame with the body's reference pose, as the body engine does; balls get
/// [`BALL_SPACING_M`], capsules [`CAPSULE_SPACING_M`].
pub fn paw_surfaces(world: &WorldSpec) -> Vec<SurfaceConfig> {
    paw_surfaces_with_keys(world)
        .into_iter()
        .map(|(_, s)| s)
        .collect()
}

/// [`paw_surfaces`], each with its key in the world file (`bodies[i].shapes[j]`).
fn paw_surfaces_with_keys(world: &WorldSpec) -> Vec<(String, SurfaceConfig)> {
    let Some(paw) = world.body_index(&world.joystick.paw_body) else {
        return Vec::new();
    };
    let pose = world.reference_pose(paw);
    world.bodies[paw]
        .shapes
        .iter()
        .enumerate()
        .map(|(j, s)| {
            let to_body = |p: V3| match s.frame {
                ShapeFrame::Body => p,
                ShapeFrame::Model => {
                    let q = pose.inverse_transform_point(p.into());
                    [q.x, q.y, q.z]
                }
            };
            let (kind, spacing_m) = match s.kind {
                ShapeKind::Ball => (SurfaceKind::Ball, BALL_SPACING_M),
                ShapeKind::Capsule => (SurfaceKind::Capsule, CAPSULE_SPACING_M),
            };
            let surface = SurfaceConfig {
                shape: s.name.clone(),
                kind,
                a_m: to_body(s.a_m),
                b_m: s.b_m.map(to_body),
                radius_m: s.radius_m,
                spacing_m,
            };
            (format!("bodies[{paw}].shapes[{j}]"), surface)
        })
        .collect()
}

/// Hexagonal grid points of a disc.
fn hex_disc(p: &PatchConfig) -> Vec<V3> {
    let n = p.normal;
    let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
    let n = [n[0] / len, n[1] / len, n[2] / len];
    let a = if n[0].abs() < 0.9 {
        [1.0, 0.0, 0.0]
    } else {
        [0.0, 1.0, 0.0]
    };
    let d = a[0] * n[0] + a[1] * n[1] + a[2] * n[2];
    let u = [a[0] - d * n[0], a[1] - d * n[1], a[2] - d * n[2]];
    let ul = (u[0] * u[0] + u[1] * u[1] + u[2] * u[2]).sqrt();
    let u = [u[0] / ul, u[1] / ul, u[2] / ul];
    let v = [
        n[1] * u[2] - n[2] * u[1],
        n[2] * u[0] - n[0] * u[2],
        n[0] * u[1] - n[1] * u[0],
    ];
    let row = p.spacing_m * 3f64.sqrt() / 2.0;
    let k = (p.radius_m / row).floor() as i64;
    let mut pts = Vec::new();
    for j in -k..=k {
        let y = j as f64 * row;
        let shift = if j.rem_euclid(2) == 1 { 0.5 } else { 0.0 };
        let m = (p.radius_m / p.spacing_m).ceil() as i64 + 1;
        for i in -m..=m {
            let x = (i as f64 + shift) * p.spacing_m;
            if x * x + y * y <= p.radius_m * p.radius_m * (1.0 + 1e-9) {
                pts.push([
                    p.center_m[0] + x * u[0] + y * v[0],
                    p.center_m[1] + x * u[1] + y * v[1],
                    p.center_m[2] + x * u[2] + y * v[2],
                ]);
            }
        }
    }
    pts
}

/// Most taxels in a layout (the `events` port addresses them with 16 bits).
const MAX_TAXELS: usize = u16::MAX as usize;

const IN_CONTACTS: usize = 0;
const OUT_SA1: usize = 1;

/// The skin engine (see the [module docs](self)).
pub struct Skin {
    cfg: SkinConfig,
    seed: u64,
    rng: Pcg64,
    names: Vec<String>,
    /// Shape index of each taxel.
    body: Vec<usize>,
    position: Vec<V3>,
    /// Pressure at the start of the step (the previous input), kPa.
    p_prev: Vec<f64>,
    /// Pressure rate of the previous step, kPa/ms.
    ds_prev: Vec<f64>,
    /// Send-on-delta reference, kPa.
    p_sent: Vec<f64>,
    lif: Vec<LifPopulation>,
    contacts: Vec<Contact>,
    p_now: Vec<f64>,
    raw: Vec<(f64, u32, bool)>,
    started: bool,
}

impl Skin {
    /// Builds the skin from its configuration and seed; started by `neuroloop run`
    /// (`NEUROLOOP_RUN_DIR` set), it writes its [afferent map](crate::afferents) into the run folder.
    pub fn new(ctx: &InitContext) -> Result<Self, EngineError> {
        Self::with_run_dir(ctx, crate::afferents::run_dir_from_env().as_deref())
    }

    /// [`new`](Self::new) with the run folder given: the afferent map is written into `run_dir` when
    /// there is one.
    pub fn with_run_dir(ctx: &InitContext, run_dir: Option<&Path>) -> Result<Self, EngineError> {
        let skin = Self::resolve(ctx)?;
        skin.afferent_map(&ctx.name).write_into(run_dir)?;
        Ok(skin)
    }

    /// Which taxel (name, index, shape, position in the paw frame) each neuron of the `sa1`, `ra1` and
    /// (when configured) `pc` ports stands for: neuron `k` is taxel `k`.
    pub fn afferent_map(&self, engine: &str) -> AfferentMap {
        let mut classes = vec!["sa1", "ra1"];
        if self.cfg.pc.is_some() {
            classes.push("pc");
        }
        let ports = classes
            .into_iter()
            .map(|class| {
                let list = (0..self.names.len())
                    .map(|k| Afferent {
                        neuron: k as u32,
                        afferent: class.to_string(),
                        muscle: None,
                        taxel: Some(self.names[k].clone()),
                        taxel_index: Some(k as u32),
                        shape: Some(self.cfg.shapes[self.body[k]].clone()),
                        position_m: Some(self.position[k]),
                    })
                    .collect();
                (class.to_string(), list)
            })
            .collect();
        AfferentMap {
            engine: engine.to_string(),
            kind: "skin".to_string(),
            ports,
        }
    }

    /// Reads and checks the configuration and builds the engine (it is small), writing no file: the
    /// first stage of [`new`](Self::new).
    pub fn resolve(ctx: &InitContext) -> Result<Self, EngineError> {
        let mut cfg: SkinConfig = ctx.config()?;
        // With a world file: where the default surfaces came from (the path, each one's key there).
        let mut from_file: Option<(String, Vec<String>)> = None;
        if let Some(path) = cfg.world_file.clone() {
            let (world, origin) = load_world_instead_of(ctx, &path, "shapes")?;
            cfg.shapes = world_shapes(&world);
            require(
                !cfg.shapes.is_empty(),
                ctx,
                "world_file",
                &format!(
                    "{origin}: the world has no collision shapes, so nothing can touch the paw"
                ),
            )?;
            if !given(ctx, "surfaces") {
                let (keys, surfaces): (Vec<String>, Vec<SurfaceConfig>) =
                    paw_surfaces_with_keys(&world).into_iter().unzip();
                require(
                    !surfaces.is_empty() || !cfg.patches.is_empty() || !cfg.taxels.is_empty(),
                    ctx,
                    "world_file",
                    &format!(
                        "{origin}: the paw body `{}` (joystick.paw_body) has no collision shapes to \
                         put taxels on: give surfaces, patches or taxels",
                        world.joystick.paw_body
                    ),
                )?;
                cfg.surfaces = surfaces;
                from_file = Some((origin, keys));
            }
        }
        require(
            !cfg.shapes.is_empty(),
            ctx,
            "shapes",
            "needs at least one shape",
        )?;
        require(cfg.max_contacts > 0, ctx, "max_contacts", "must be > 0")?;
        require(
            cfg.spread_sigma_m > 0.0 && cfg.spread_sigma_m.is_finite(),
            ctx,
            "spread_sigma_m",
            "must be > 0",
        )?;
        require(cfg.delta_kpa > 0.0, ctx, "delta_kpa", "must be > 0")?;
        substeps(ctx, "dt_ms", cfg.dt_ms)?;
        cfg.sa1.check(ctx, "sa1")?;
        cfg.ra1.check(ctx, "ra1")?;
        if let Some(pc) = &cfg.pc {
            pc.check(ctx, "pc")?;
        }
        let body_index = |b: &str, key: String| {
            cfg.shapes.iter().position(|n| n == b).ok_or_else(|| {
                config_error(
                    ctx,
                    &key,
                    &format!("shape {b:?} does not exist (shapes: {:?})", cfg.shapes),
                )
            })
        };
        // A surface error names `surfaces[i].<field>`, or, for a default surface taken from a world
        // file, `world_file` and the shape's key in that file.
        let surface_check = |ok: bool, i: usize, field: &str, why: &str| match (ok, &from_file) {
            (true, _) => Ok(()),
            (false, Some((origin, keys))) => Err(config_error(
                ctx,
                "world_file",
                &format!(
                    "{origin}: {} (a paw shape, a default surface): {why}",
                    keys[i]
                ),
            )),
            (false, None) => Err(config_error(ctx, &format!("surfaces[{i}].{field}"), why)),
        };
        let (mut names, mut body, mut position) = (Vec::new(), Vec::new(), Vec::new());
        for (i, sc) in cfg.surfaces.iter().enumerate() {
            let b = body_index(&sc.shape, format!("surfaces[{i}].shape"))?;
            surface_check(
                sc.radius_m > 0.0
                    && sc.spacing_m > 0.0
                    && sc.radius_m.is_finite()
                    && sc.radius_m / sc.spacing_m < 1000.0,
                i,
                "spacing_m",
                "radius_m and spacing_m must be > 0 (at most 1000 taxels across)",
            )?;
            surface_check(
                sc.a_m
                    .iter()
                    .chain(sc.b_m.iter().flatten())
                    .all(|x| x.is_finite()),
                i,
                "a_m",
                "a_m and b_m must be finite",
            )?;
            surface_check(
                sc.kind == SurfaceKind::Ball || sc.b_m.is_some(),
                i,
                "b_m",
                "a capsule needs b_m",
            )?;
            let count = surface_count(sc);
            surface_check(
                names.len() as f64 + count <= MAX_TAXELS as f64,
                i,
                "spacing_m",
                &format!(
                    "this surface needs {count} taxels: with those before it, more than the \
                     {MAX_TAXELS} a layout may have"
                ),
            )?;
            for (k, x) in surface_points(sc).into_iter().enumerate() {
                names.push(format!("{}{k}", sc.shape));
                body.push(b);
                position.push(x);
            }
        }
        for (i, p) in cfg.patches.iter().enumerate() {
            let b = body_index(&p.shape, format!("patches[{i}].shape"))?;
            require(
                p.radius_m > 0.0 && p.spacing_m > 0.0 && p.radius_m / p.spacing_m < 1000.0,
                ctx,
                &format!("patches[{i}].spacing_m"),
                "radius_m and spacing_m must be > 0 (at most 1000 taxels across)",
            )?;
            require(
                p.normal.iter().any(|&x| x != 0.0) && p.normal.iter().all(|x| x.is_finite()),
                ctx,
                &format!("patches[{i}].normal"),
                "must be finite and non-zero",
            )?;
            for (k, x) in hex_disc(p).into_iter().enumerate() {
                names.push(format!("{}{k}", p.name));
                body.push(b);
                position.push(x);
            }
        }
        for (i, t) in cfg.taxels.iter().enumerate() {
            body.push(body_index(&t.shape, format!("taxels[{i}].shape"))?);
            names.push(t.name.clone());
            position.push(t.position_m);
        }
        require(
            !names.is_empty() && names.len() <= MAX_TAXELS,
            ctx,
            "surfaces",
            "the layout (surfaces, patches, taxels) needs between 1 and 65535 taxels",
        )?;
        let n = names.len();
        let dt = cfg.dt_ms;
        let mut lif = vec![
            LifPopulation::new(n, cfg.sa1.tau_m_ms, cfg.sa1.t_ref_ms, dt),
            LifPopulation::new(n, cfg.ra1.tau_m_ms, cfg.ra1.t_ref_ms, dt),
        ];
        if let Some(pc) = &cfg.pc {
            lif.push(LifPopulation::new(n, pc.tau_m_ms, pc.t_ref_ms, dt));
        }
        Ok(Skin {
            seed: ctx.seed,
            rng: Pcg64::seed_from_u64(ctx.seed),
            names,
            body,
            position,
            p_prev: vec![0.0; n],
            ds_prev: vec![0.0; n],
            p_sent: vec![0.0; n],
            lif,
            contacts: Vec::new(),
            p_now: vec![0.0; n],
            raw: Vec::new(),
            started: false,
            cfg,
        })
    }

    /// Number of taxels.
    pub fn n_taxels(&self) -> usize {
        self.names.len()
    }

    /// Taxel names, in output order.
    pub fn taxel_names(&self) -> &[String] {
        &self.names
    }

    /// Taxel positions in the paw frame (m), in output order.
    pub fn taxel_positions(&self) -> &[V3] {
        &self.position
    }

    fn pressure(&mut self) {
        let s2 = self.cfg.spread_sigma_m * self.cfg.spread_sigma_m;
        let norm = 1e-3 / (2.0 * std::f64::consts::PI * s2); // N/m^2 -> kPa
        for j in 0..self.names.len() {
            let x = self.position[j];
            let mut p = 0.0;
            for c in &self.contacts {
                if c.shape == self.body[j] {
                    let r2: f64 = (0..3).map(|k| (x[k] - c.point_m[k]).powi(2)).sum();
                    p += c.force_n * norm * (-r2 / (2.0 * s2)).exp();
                }
            }
            self.p_now[j] = p;
        }
    }
}

impl Engine for Skin {
    fn ports(&self) -> Vec<PortSpec> {
        let mut ch = Vec::new();
        for s in 0..self.cfg.max_contacts {
            for (f, u) in CONTACT_FIELDS {
                ch.push((format!("c{s}.{f}"), u));
            }
        }
        let ch: Vec<(&str, &str)> = ch.iter().map(|(n, u)| (n.as_str(), *u)).collect();
        let n = self.names.len() as u32;
        let mut ports = vec![
            PortSpec::input("contacts", PortKind::analog(&ch)),
            PortSpec::output("sa1", PortKind::Spikes { size: n }),
            PortSpec::output("ra1", PortKind::Spikes { size: n }),
        ];
        if self.cfg.pc.is_some() {
            ports.push(PortSpec::output("pc", PortKind::Spikes { size: n }));
        }
        ports.push(PortSpec::output(
            "events",
            PortKind::Events {
                width: n as u16,
                height: 1,
            },
        ));
        let p: Vec<(&str, &str)> = self.names.iter().map(|n| (n.as_str(), "kPa")).collect();
        ports.push(PortSpec::output("pressure", PortKind::analog(&p)));
        ports
    }

    fn step(
        &mut self,
        ctx: &StepContext,
        inputs: &Inputs,
        outputs: &mut Outputs,
    ) -> Result<(), EngineError> {
        let n_shapes = self.cfg.shapes.len();
        let expected = CONTACT_FIELDS.len() * self.cfg.max_contacts as usize;
        if inputs.analog(IN_CONTACTS).len() != expected {
            return Err(EngineError::Model(format!(
                "contacts has {} values, expected {expected}",
                inputs.analog(IN_CONTACTS).len()
            )));
        }
        parse_contacts(inputs.analog(IN_CONTACTS), n_shapes, &mut self.contacts)
            .map_err(|e| EngineError::Model(format!("contacts at {} ms: {e}", ctx.t_ms())))?;
        self.pressure();
        if !self.started {
            self.p_prev.clone_from(&self.p_now);
            self.p_sent.clone_from(&self.p_now);
            self.started = true;
        }
        let dt = self.cfg.dt_ms;
        let step_ms = ctx.dt_ms();
        let n_sub = substeps_at_run(step_ms, dt)?;
        let n = self.names.len();
        let has_pc = self.cfg.pc.is_some();
        let out_events = if has_pc { 4 } else { 3 };
        let classes: Vec<AfferentConfig> = [
            Some(self.cfg.sa1.clone()),
            Some(self.cfg.ra1.clone()),
            self.cfg.pc.clone(),
        ]
        .into_iter()
        .flatten()
        .collect();
        // Per taxel: ds (kPa/ms) and dds (kPa/ms^2) over this step.
        let ds: Vec<f64> = (0..n)
            .map(|j| (self.p_now[j] - self.p_prev[j]) / step_ms)
            .collect();
        for k in 0..n_sub {
            let t = ctx.t_ms() + f64::from(k) * dt;
            let frac = (f64::from(k) + 0.5) / f64::from(n_sub);
            for (c, cls) in classes.iter().enumerate() {
                let port = OUT_SA1 + c;
                for (j, &ds_j) in ds.iter().enumerate() {
                    let s = self.p_prev[j] + frac * (self.p_now[j] - self.p_prev[j]);
                    let dds = (ds_j - self.ds_prev[j]) / step_ms;
                    let mut i = cls.current(s, ds_j, dds);
                    if cls.noise_sigma > 0.0 {
                        let z: f64 = StandardNormal.sample(&mut self.rng);
                        i += cls.noise_sigma * z;
                    }
                    if self.lif[c].update(j, i) {
                        outputs.spikes_mut(port).push(j as u32, t);
                    }
                }
            }
        }
        // Send-on-delta events.
        self.raw.clear();
        let delta = self.cfg.delta_kpa;
        let t0 = ctx.t_ms();
        for j in 0..n {
            let (p0, p1) = (self.p_prev[j], self.p_now[j]);
            let mut d0 = p0 - self.p_sent[j];
            let mut d1 = p1 - self.p_sent[j];
            while d1 >= delta || d1 <= -delta {
                let c = if d1 > 0.0 { delta } else { -delta };
                let frac = ((c - d0) / (d1 - d0)).clamp(0.0, 1.0 - 1e-12);
                self.raw.push((t0 + frac * step_ms, j as u32, c > 0.0));
                d0 -= c;
                d1 -= c;
            }
            self.p_sent[j] = p1 - d1;
        }
        self.raw.sort_by(|a, b| a.0.total_cmp(&b.0));
        let ev = outputs.events_mut(out_events);
        for &(t, j, on) in &self.raw {
            ev.push(j as u16, 0, t, on);
        }
        outputs
            .analog_mut(out_events + 1)
            .copy_from_slice(&self.p_now);
        self.ds_prev = ds;
        std::mem::swap(&mut self.p_prev, &mut self.p_now);
        Ok(())
    }

    fn reset(&mut self) -> Result<(), EngineError> {
        self.rng = Pcg64::seed_from_u64(self.seed);
        self.lif.iter_mut().for_each(LifPopulation::reset);
        self.ds_prev.iter_mut().for_each(|x| *x = 0.0);
        self.started = false;
        Ok(())
    }
}
