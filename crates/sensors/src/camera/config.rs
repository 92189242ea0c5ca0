use serde::{Deserialize, Serialize};

use crate::scene::{
    CameraPoseConfig, SceneConfig, DEFAULT_MIN_VISIBLE_MASS_KG, DEFAULT_SHAPE_REFLECTANCE,
};
use std::path::PathBuf;

/// ESIM and noise parameters (defaults from ESIM and v2e).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EsimConfig {
    /// Mean ON threshold in log units (default 0.2).
    pub threshold_on: f64,
    /// Mean OFF threshold in log units (default 0.2).
    pub threshold_off: f64,
    /// Standard deviation of the per-pixel fixed pattern of both thresholds (default 0.03).
    pub threshold_mismatch_sigma: f64,
    /// Standard deviation of the threshold redrawn after each crossing (default 0.021).
    pub threshold_noise_sigma: f64,
    /// Lowest threshold (default 0.01).
    pub min_threshold: f64,
    /// Refractory period in ms (default 0.5).
    pub refractory_ms: f64,
    /// Leak (spurious ON) events per pixel per second (default 0.01).
    pub leak_rate_hz: f64,
    /// Shot-noise events per pixel per second (default 0.001).
    pub shot_noise_rate_hz: f64,
    /// `eps` of `L = ln(eps + I)` (default 0.001).
    pub eps: f64,
    /// Photoreceptor low-pass 3 dB cutoff at full intensity, Hz (default 0: off; v2e uses ~300).
    pub cutoff_hz: f64,
}

impl Default for EsimConfig {
    fn default() -> Self {
        EsimConfig {
            threshold_on: 0.2,
            threshold_off: 0.2,
            threshold_mismatch_sigma: 0.03,
            threshold_noise_sigma: 0.021,
            min_threshold: 0.01,
            refractory_ms: 0.5,
            leak_rate_hz: 0.01,
            shot_noise_rate_hz: 0.001,
            eps: 0.001,
            cutoff_hz: 0.0,
        }
    }
}

/// How often the scene is rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RenderMode {
    /// Every `dt_ms`.
    Fixed,
    /// ESIM's criterion: every `dt_ms` at most, halved down to `min_dt_ms` while some pixel's log
    /// intensity changes by more than `max_log_change` thresholds between samples. Renders that are
    /// refined are thrown away; with point-sampled edges a pixel flip is a full-contrast jump at any
    /// interval, so moving edges drive this mode to `min_dt_ms`.
    Adaptive,
    /// Motion-based: each sync step is split into `n` equal intervals so that no corner of a moving
    /// object's bounding box (nor the jittering camera) moves more than `max_pixel_motion` pixels per
    /// interval, `n` between `step / dt_ms` and `step / min_dt_ms`; no render is thrown away.
    Motion,
}

/// Render timing.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RenderConfig {
    /// Fixed or adaptive (default fixed).
    pub mode: RenderMode,
    /// Render interval in ms (adaptive: the longest), must divide the sync step (default 1).
    pub dt_ms: f64,
    /// Shortest adaptive interval in ms (default 0.0625).
    pub min_dt_ms: f64,
    /// Adaptive: largest change of log intensity between samples, in units of the mean threshold
    /// (default 0.5).
    pub max_log_change: f64,
    /// Motion: largest image motion between samples, pixels (default 0.5).
    pub max_pixel_motion: f64,
}

impl Default for RenderConfig {
    fn default() -> Self {
        RenderConfig {
            mode: RenderMode::Fixed,
            dt_ms: 1.0,
            min_dt_ms: 0.0625,
            max_log_change: 0.5,
            max_pixel_motion: 0.5,
        }
    }
}

/// Kinds of camera jitter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JitterKind {
    /// Sinusoidal yaw and pitch.
    #[default]
    Tremor,
    /// Drift random walk plus micro-saccades at Poisson times ([`Gaze`](super::Gaze)).
    Microsaccades,
}

/// Camera jitter (see the [module docs](super)).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JitterConfig {
    /// `tremor` (default) or `microsaccades`.
    #[serde(default)]
    pub kind: JitterKind,
    /// Tremor: amplitude of yaw and pitch; micro-saccades: the size of one saccade; degrees.
    pub amplitude_deg: f64,
    /// Tremor: yaw frequency in Hz, pitch at 1.3 times (required for the tremor).
    #[serde(default)]
    pub frequency_hz: Option<f64>,
    /// Micro-saccades: mean rate in Hz (default 1.5; humans make 1-2 per second).
    #[serde(default = "default_saccade_rate_hz")]
    pub rate_hz: f64,
    /// Micro-saccades: duration of one saccade in ms (default 20; tens of ms in humans).
    #[serde(default = "default_saccade_duration_ms")]
    pub duration_ms: f64,
    /// Micro-saccades: drift, standard deviation of the random walk per axis after one second, degrees
    /// (default 0.1: a few arcmin between saccades).
    #[serde(default = "default_drift_deg_per_sqrt_s")]
    pub drift_deg_per_sqrt_s: f64,
}

pub(super) fn default_saccade_rate_hz() -> f64 {
    1.5
}
pub(super) fn default_saccade_duration_ms() -> f64 {
    20.0
}
pub(super) fn default_drift_deg_per_sqrt_s() -> f64 {
    0.1
}

/// Configuration of [`EventCamera`](super::EventCamera).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventCameraConfig {
    /// Width in pixels (default 128).
    pub width: u16,
    /// Height in pixels (default 128).
    pub height: u16,
    /// Rays per pixel along each axis (default 1).
    pub supersampling: u32,
    /// Camera placement and field of view.
    pub camera: CameraPoseConfig,
    /// The body engine's world file (a path relative to the experiment file): the scene's `bodies`
    /// (in `body_poses` order) and their objects are built from it (every collision shape and visual
    /// of every body, see [`SceneConfig::add_world`]). Absent: the world compiled into
    /// `neuroloop-body` (`worlds/mouse_forelimb_joystick.toml`), unless `scene.bodies` is given, which
    /// makes a hand-built scene (not allowed together with `world_file`).
    pub world_file: Option<PathBuf>,
    /// Reflectance 0..1 of the world's collision shapes and of its visuals that give none (default
    /// 0.85).
    pub shape_reflectance: f64,
    /// A moving world body of at least this mass without shapes or visuals is refused: the camera
    /// could not see it (default 1e-6 kg; helper links weigh 1e-7 kg).
    pub min_visible_mass_kg: f64,
    /// Planes, light and extra objects (static, or on a world body), added to the world's objects.
    pub scene: SceneConfig,
    /// Event generation.
    pub esim: EsimConfig,
    /// Render timing.
    pub render: RenderConfig,
    /// Camera tremor (default none).
    pub jitter: Option<JitterConfig>,
    /// Adds the `frame` debug output (default false).
    pub frame_output: bool,
}

impl Default for EventCameraConfig {
    fn default() -> Self {
        EventCameraConfig {
            width: 128,
            height: 128,
            supersampling: 1,
            camera: CameraPoseConfig::default(),
            world_file: None,
            shape_reflectance: DEFAULT_SHAPE_REFLECTANCE,
            min_visible_mass_kg: DEFAULT_MIN_VISIBLE_MASS_KG,
            scene: SceneConfig::default(),
            esim: EsimConfig::default(),
            render: RenderConfig::default(),
            jitter: None,
            frame_output: false,
        }
    }
}
