//! Event camera (dynamic vision sensor): ESIM events from a ray-cast scene, stamped in simulated time.
//!
//! Model (ESIM, Rebecq et al., CoRL 2018; noise and mismatch as v2e, Hu, Liu & Delbruck, CVPRW 2021):
//! the scene ([`crate::scene`]) is rendered at sample times inside each sync step; every pixel keeps its
//! log intensity `L = ln(eps + I)` and a reference level `L_ref`. Between two samples `(t0, L0)` and
//! `(t1, L1)` the pixel emits one event per crossing of `L_ref + C_on` (ON) or `L_ref - C_off` (OFF),
//! moving `L_ref` by the threshold each time; the event time is interpolated linearly,
//! `t = t0 + (L_cross - L0) / (L1 - L0) (t1 - t0)`. Thresholds have a per-pixel fixed pattern
//! `C ~ N(threshold, threshold_mismatch_sigma^2)` (clipped at `min_threshold`) and, after every crossing,
//! a fresh draw `C = C_pixel + N(0, threshold_noise_sigma^2)`. An event closer than `refractory_ms` to
//! the pixel's previous event is dropped (`L_ref` still moves). Leak: `L_ref` drifts down by
//! `leak_rate_hz * C_on` per second, so a static pixel emits ON events at `leak_rate_hz`. Shot noise:
//! Poisson events at `shot_noise_rate_hz` per pixel, random polarity, `L_ref` unchanged.
//! Optional photoreceptor low-pass (v2e, `esim.cutoff_hz` > 0): ESIM then sees, instead of `L`, its
//! first-order low-pass `dLf/dt = (L - Lf) / tau` with `tau = 1 / (2 pi cutoff_hz inten01)` and
//! `inten01 = (255 I + 20) / 275` (v2e's intensity scaling with I = 1 as 8-bit white), so dark pixels
//! respond more slowly; updated exactly for the intensity held over each render interval (v2e takes
//! an Euler step clipped at 1).
//!
//! Timing: the inputs of a step are the body's poses at the step's start; the camera interpolates
//! between the previous and the current poses over the step, i.e. it sees the body one sync step late,
//! never extrapolating. Samples are every `render.dt_ms` (`fixed`), or adaptive: `adaptive` (ESIM) halves
//! an interval, down to `render.min_dt_ms`, while some pixel's log intensity would change by more than
//! `render.max_log_change` thresholds; `motion` splits each step so that no moving object's projected
//! bounding box moves more than `render.max_pixel_motion` pixels between samples (cheaper: nothing is
//! rendered twice). Events lie in `[t_ms, end_ms)` and are sorted by time (ties in pixel order).
//!
//! Cost: static geometry is cached; each render ray-casts only the screen rectangles of moving objects
//! and ESIM visits only pixels whose intensity changed, plus constant pixels whose leak event falls due
//! (a deadline heap). See `examples/event_camera_bench.rs`.
//!
//! Output `events`: an [`EventBatch`] of the `width` x `height` sensor (x right, y down), ON = `true`.
//! Optional `frame` (analog, `width * height` channels `p<y>_<x>`): ON minus OFF events of the step, for
//! debugging.
//!
//! Optional camera jitter (`jitter`), so that a static scene is seen, both seeded and functions of
//! simulated time only: `kind = "tremor"` (default), yaw and pitch `amplitude_deg * sin(2 pi f t +
//! phase)` (pitch at 1.3 f), phases from the seed; or `kind = "microsaccades"`, fixational eye
//! movements ([`Gaze`]): a drift random walk of `drift_deg_per_sqrt_s` per axis plus saccades of
//! `amplitude_deg` lasting `duration_ms` (raised-cosine profile) at times of a Poisson process of
//! `rate_hz` (intervals: the duration plus an exponential wait), each aimed at a random angle within
//! 90 degrees of the way back to the fixation point.

use neuroloop_core::engine::{
    Engine, EngineError, InitContext, Inputs, Outputs, ResolvedConfig, StepContext,
};
use neuroloop_core::payload::EventBatch;
use neuroloop_core::port::{PortKind, PortSpec};
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Poisson, StandardNormal};
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::scene::{
    CameraPoseConfig, Pose, Renderer, SceneConfig, DEFAULT_MIN_VISIBLE_MASS_KG,
    DEFAULT_SHAPE_REFLECTANCE,
};
use crate::{config_error, load_world, require, substeps};
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
    /// Drift random walk plus micro-saccades at Poisson times ([`Gaze`]).
    Microsaccades,
}

/// Camera jitter (see the [module docs](self)).
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

fn default_saccade_rate_hz() -> f64 {
    1.5
}
fn default_saccade_duration_ms() -> f64 {
    20.0
}
fn default_drift_deg_per_sqrt_s() -> f64 {
    0.1
}

/// Grid of the gaze process, ms: the path is the same whatever the render times.
const GAZE_DT_MS: f64 = 0.1;

/// Fixational eye movements (micro-saccades after Martinez-Conde, Macknik & Hubel, Nat Rev Neurosci
/// 2004; corrective directions after Engbert & Kliegl, Psychol Sci 2004): a gaze offset (yaw, pitch
/// in degrees) generated on a fixed grid of 0.1 ms from its own seeded stream and read by linear
/// interpolation, so the path depends on the seed and simulated time only.
pub struct Gaze {
    rng: Pcg64,
    amplitude_deg: f64,
    duration_ms: f64,
    /// Mean of the exponential wait after a saccade ends, ms.
    wait_ms: f64,
    /// Random-walk step standard deviation per grid step, degrees.
    drift_step_deg: f64,
    /// Grid samples (t ms, yaw deg, pitch deg), oldest first.
    samples: std::collections::VecDeque<(f64, f64, f64)>,
    /// Grid steps taken (time of the newest sample = start + steps * GAZE_DT_MS).
    steps: u64,
    start_ms: f64,
    /// Active saccade: onset (ms) and displacement (deg).
    saccade: Option<(f64, [f64; 2])>,
    next_onset_ms: f64,
    onsets_ms: Vec<f64>,
}

impl Gaze {
    /// A gaze at the fixation point at `start_ms`, with its first onset drawn from the stream.
    pub fn new(j: &JitterConfig, seed: u64, start_ms: f64) -> Self {
        let mut rng = Pcg64::seed_from_u64(seed);
        let wait_ms = 1e3 / j.rate_hz - j.duration_ms;
        let first: f64 = rand_distr::Exp1.sample(&mut rng);
        let mut samples = std::collections::VecDeque::new();
        samples.push_back((start_ms, 0.0, 0.0));
        Gaze {
            amplitude_deg: j.amplitude_deg,
            duration_ms: j.duration_ms,
            wait_ms,
            drift_step_deg: j.drift_deg_per_sqrt_s * (GAZE_DT_MS * 1e-3).sqrt(),
            samples,
            steps: 0,
            start_ms,
            saccade: None,
            next_onset_ms: start_ms + first * 1e3 / j.rate_hz,
            onsets_ms: Vec::new(),
            rng,
        }
    }

    fn profile(s: f64) -> f64 {
        (1.0 - (std::f64::consts::PI * s.clamp(0.0, 1.0)).cos()) / 2.0
    }

    /// Extends the path by one grid step.
    fn advance(&mut self) {
        let &(t, y, p) = self.samples.back().expect("never empty");
        let t1 = self.start_ms + (self.steps + 1) as f64 * GAZE_DT_MS;
        let (mut y1, mut p1) = (y, p);
        if self.drift_step_deg > 0.0 {
            let (a, b): (f64, f64) = (
                StandardNormal.sample(&mut self.rng),
                StandardNormal.sample(&mut self.rng),
            );
            y1 += self.drift_step_deg * a;
            p1 += self.drift_step_deg * b;
        }
        if self.saccade.is_none() && t1 >= self.next_onset_ms {
            // Aim within 90 degrees of the way back to the fixation point (any way when on it).
            let back = if y != 0.0 || p != 0.0 {
                (-p).atan2(-y)
            } else {
                0.0
            };
            let spread = if y != 0.0 || p != 0.0 {
                std::f64::consts::FRAC_PI_2
            } else {
                std::f64::consts::PI
            };
            let angle = back + spread * (2.0 * self.rng.random::<f64>() - 1.0);
            let d = [
                self.amplitude_deg * angle.cos(),
                self.amplitude_deg * angle.sin(),
            ];
            self.saccade = Some((t, d));
            self.onsets_ms.push(t);
            let wait: f64 = rand_distr::Exp1.sample(&mut self.rng);
            self.next_onset_ms = t + self.duration_ms + wait * self.wait_ms;
        }
        if let Some((onset, d)) = self.saccade {
            let s0 = (t - onset) / self.duration_ms;
            let s1 = (t1 - onset) / self.duration_ms;
            let k = Self::profile(s1) - Self::profile(s0);
            y1 += d[0] * k;
            p1 += d[1] * k;
            if s1 >= 1.0 {
                self.saccade = None;
            }
        }
        self.steps += 1;
        self.samples.push_back((t1, y1, p1));
    }

    /// Generates the path up to `t_ms`.
    fn extend_to(&mut self, t_ms: f64) {
        while self.samples.back().is_some_and(|s| s.0 < t_ms) {
            self.advance();
        }
    }

    /// Forgets samples before `t_ms` (keeping one at or before it); later reads must not go earlier.
    pub fn forget_before(&mut self, t_ms: f64) {
        while self.samples.len() > 1 && self.samples[1].0 <= t_ms {
            self.samples.pop_front();
        }
    }

    /// Gaze offset (yaw, pitch) in degrees at `t_ms` (not earlier than the last `forget_before`).
    pub fn at(&mut self, t_ms: f64) -> [f64; 2] {
        self.extend_to(t_ms);
        let i = self.samples.partition_point(|s| s.0 < t_ms);
        if i == 0 {
            let s = self.samples[0];
            return [s.1, s.2];
        }
        let (a, b) = (self.samples[i - 1], self.samples[i]);
        let w = (t_ms - a.0) / (b.0 - a.0);
        [a.1 + w * (b.1 - a.1), a.2 + w * (b.2 - a.2)]
    }

    /// Fastest gaze motion between `t0_ms` and `t1_ms`, degrees per ms.
    pub fn max_speed_deg_per_ms(&mut self, t0_ms: f64, t1_ms: f64) -> f64 {
        self.extend_to(t1_ms);
        let mut m: f64 = 0.0;
        let s = &self.samples;
        for k in 1..s.len() {
            if s[k].0 > t0_ms && s[k - 1].0 < t1_ms {
                let d = (s[k].1 - s[k - 1].1).hypot(s[k].2 - s[k - 1].2);
                m = m.max(d / (s[k].0 - s[k - 1].0));
            }
        }
        m
    }

    /// Onset times of the saccades generated so far, ms.
    pub fn onsets_ms(&self) -> &[f64] {
        &self.onsets_ms
    }
}

/// Configuration of [`EventCamera`].
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

/// Per-pixel ESIM state, struct of arrays.
#[derive(Clone, Debug)]
struct Pixels {
    /// Last rendered intensity and its log.
    intensity: Vec<f64>,
    log: Vec<f64>,
    /// Reference level at time `ref_ms` (it drifts down by `leak_per_ms` per ms after that).
    reference: Vec<f64>,
    ref_ms: Vec<f64>,
    /// Leak drift of the reference, log units per ms.
    leak_per_ms: Vec<f64>,
    /// When a constant pixel next emits a leak event (infinite without leak); the heap holds
    /// (time bits, pixel) and entries whose time no longer matches are stale.
    deadline: Vec<f64>,
    /// Fixed-pattern thresholds.
    c_on_pixel: Vec<f64>,
    c_off_pixel: Vec<f64>,
    /// Thresholds for the next crossing.
    c_on: Vec<f64>,
    c_off: Vec<f64>,
    /// Time of the last emitted event, ms.
    last_ms: Vec<f64>,
    /// Photoreceptor low-pass: pixels whose filtered log intensity (`log`) has not yet reached the
    /// log of their intensity, and a flag per pixel for membership.
    unsettled: Vec<u32>,
    unsettled_flag: Vec<bool>,
}

/// Per-pixel ESIM between `(t0, log[i])` and `(t1, l1)`, with the reference drifting by the leak;
/// pushes events to `raw` and the pixel's next leak deadline to `heap`.
#[allow(clippy::too_many_arguments)]
fn update_pixel(
    px: &mut Pixels,
    i: usize,
    l1: f64,
    i1: f64,
    t0: f64,
    t1: f64,
    e: &EsimConfig,
    rng: &mut Pcg64,
    raw: &mut Vec<RawEvent>,
    heap: &mut BinaryHeap<Reverse<(u64, u32)>>,
) {
    let draw = |base: f64, rng: &mut Pcg64| {
        if e.threshold_noise_sigma > 0.0 {
            let z: f64 = StandardNormal.sample(rng);
            (base + e.threshold_noise_sigma * z).max(e.min_threshold)
        } else {
            base
        }
    };
    let span = t1 - t0;
    let k = px.leak_per_ms[i];
    let ref0 = px.reference[i] - k * (t0 - px.ref_ms[i]);
    let mut d0 = px.log[i] - ref0;
    let mut d1 = l1 - (ref0 - k * span);
    let frac_max = 1.0 - 1e-12;
    while d1 > px.c_on[i] {
        let c = px.c_on[i];
        let t = t0 + ((c - d0) / (d1 - d0)).clamp(0.0, frac_max) * span;
        d0 -= c;
        d1 -= c;
        if t - px.last_ms[i] >= e.refractory_ms {
            px.last_ms[i] = t;
            raw.push((t, i as u32, true));
        }
        px.c_on[i] = draw(px.c_on_pixel[i], rng);
    }
    while d1 < -px.c_off[i] {
        let c = px.c_off[i];
        let t = t0 + ((-c - d0) / (d1 - d0)).clamp(0.0, frac_max) * span;
        d0 += c;
        d1 += c;
        if t - px.last_ms[i] >= e.refractory_ms {
            px.last_ms[i] = t;
            raw.push((t, i as u32, false));
        }
        px.c_off[i] = draw(px.c_off_pixel[i], rng);
    }
    px.reference[i] = l1 - d1;
    px.ref_ms[i] = t1;
    px.log[i] = l1;
    px.intensity[i] = i1;
    if k > 0.0 {
        let due = t1 + (px.c_on[i] - d1) / k;
        px.deadline[i] = due;
        heap.push(Reverse((due.to_bits(), i as u32)));
    }
}

/// One event before sorting: (time ms, pixel index, polarity).
type RawEvent = (f64, u32, bool);

/// The event camera engine (see the [module docs](self)).
pub struct EventCamera {
    cfg: EventCameraConfig,
    seed: u64,
    renderer: Renderer,
    rng: Pcg64,
    pixels: Option<Pixels>,
    prev_poses: Vec<Pose>,
    cur_poses: Vec<Pose>,
    interp: Vec<Pose>,
    jitter_phase: [f64; 2],
    gaze: Option<Gaze>,
    image: Vec<f64>,
    raw: Vec<RawEvent>,
    heap: BinaryHeap<Reverse<(u64, u32)>>,
    regions: Vec<(usize, usize, usize, usize)>,
    scratch_rects: Vec<(usize, usize, usize, usize)>,
    /// Renders done so far (for benchmarks).
    renders: u64,
}

const IN_POSES: usize = 0;

/// The event camera's configuration, resolved: every check made (the memory estimate included), the
/// scene taken from the world, nothing allocated per pixel. [`EventCamera::from_resolved`] builds the
/// renderer and the pixels.
pub struct ResolvedCamera {
    cfg: EventCameraConfig,
}

impl ResolvedConfig for ResolvedCamera {
    fn ports(&self) -> Vec<PortSpec> {
        camera_ports(&self.cfg)
    }

    fn build(self: Box<Self>, ctx: &InitContext) -> Result<Box<dyn Engine>, EngineError> {
        Ok(Box::new(EventCamera::from_resolved(*self, ctx)))
    }
}

impl ResolvedCamera {
    /// Reads and checks the configuration; takes the scene's bodies from the world.
    pub fn resolve(ctx: &InitContext) -> Result<Self, EngineError> {
        let mut cfg: EventCameraConfig = ctx.config()?;
        require(
            (0.0..=1.0).contains(&cfg.shape_reflectance),
            ctx,
            "shape_reflectance",
            "must be in [0, 1]",
        )?;
        require(
            cfg.min_visible_mass_kg >= 0.0 && cfg.min_visible_mass_kg.is_finite(),
            ctx,
            "min_visible_mass_kg",
            "must be >= 0",
        )?;
        let bodies_given = ctx
            .config
            .get("scene")
            .is_some_and(|s| s.get("bodies").is_some());
        if bodies_given {
            require(
                cfg.world_file.is_none(),
                ctx,
                "scene.bodies",
                "the bodies come from world_file: give one of them",
            )?;
        } else {
            let (world, origin) = load_world(ctx, cfg.world_file.as_deref())?;
            cfg.scene
                .add_world(&world, cfg.shape_reflectance, cfg.min_visible_mass_kg)
                .map_err(|(key, why)| {
                    config_error(ctx, "world_file", &format!("{origin}: {key}: {why}"))
                })?;
        }
        require(cfg.width > 0, ctx, "width", "must be > 0")?;
        require(cfg.height > 0, ctx, "height", "must be > 0")?;
        require(
            (1..=8).contains(&cfg.supersampling),
            ctx,
            "supersampling",
            "must be in 1..=8",
        )?;
        // Estimate before allocating: per pixel about 15 f64 of event-model state, the supersampled
        // rendering (8 bytes per sample) and, with a frame output, its channel (a name and a value).
        let pixels = u64::from(cfg.width) * u64::from(cfg.height);
        let ss = u64::from(cfg.supersampling);
        let per_pixel = 120 + 8 * ss * ss + if cfg.frame_output { 48 } else { 0 };
        let need = pixels.saturating_mul(per_pixel);
        if let Some(avail) = neuroloop_core::engine::available_memory_bytes() {
            if need > avail / 2 {
                return Err(config_error(
                    ctx,
                    "width",
                    &format!(
                        "a {}x{} camera needs about {:.1} GB, and only {:.1} GB may be used (half of the {:.1} GB available)",
                        cfg.width,
                        cfg.height,
                        need as f64 / 1e9,
                        avail as f64 / 2e9,
                        avail as f64 / 1e9
                    ),
                ));
            }
        }
        let c = &cfg.camera;
        require(
            c.fov_deg > 0.0 && c.fov_deg < 180.0,
            ctx,
            "camera.fov_deg",
            "must be in (0, 180)",
        )?;
        require(
            c.position_m
                .iter()
                .chain(&c.look_at_m)
                .chain(&c.up)
                .all(|x| x.is_finite())
                && c.position_m != c.look_at_m,
            ctx,
            "camera.look_at_m",
            "camera position and look-at point must be finite and distinct",
        )?;
        cfg.scene.validate(c).map_err(|(key, why)| {
            let key = if key.starts_with("camera.") || key.starts_with("scene.") {
                key
            } else {
                format!("scene.{key}")
            };
            config_error(ctx, &key, &why)
        })?;
        let e = &cfg.esim;
        for (k, v) in [
            ("esim.threshold_on", e.threshold_on),
            ("esim.threshold_off", e.threshold_off),
            ("esim.min_threshold", e.min_threshold),
            ("esim.eps", e.eps),
        ] {
            require(v > 0.0 && v.is_finite(), ctx, k, "must be > 0")?;
        }
        for (k, v) in [
            ("esim.threshold_mismatch_sigma", e.threshold_mismatch_sigma),
            ("esim.threshold_noise_sigma", e.threshold_noise_sigma),
            ("esim.refractory_ms", e.refractory_ms),
            ("esim.leak_rate_hz", e.leak_rate_hz),
            ("esim.shot_noise_rate_hz", e.shot_noise_rate_hz),
            ("esim.cutoff_hz", e.cutoff_hz),
        ] {
            require(v >= 0.0 && v.is_finite(), ctx, k, "must be >= 0")?;
        }
        let r = &cfg.render;
        substeps(ctx, "render.dt_ms", r.dt_ms)?;
        if r.mode != RenderMode::Fixed {
            require(
                r.min_dt_ms > 0.0 && r.min_dt_ms <= r.dt_ms,
                ctx,
                "render.min_dt_ms",
                "must be > 0 and <= render.dt_ms",
            )?;
            require(
                r.max_log_change > 0.0,
                ctx,
                "render.max_log_change",
                "must be > 0",
            )?;
            require(
                r.max_pixel_motion > 0.0,
                ctx,
                "render.max_pixel_motion",
                "must be > 0",
            )?;
        }
        if let Some(j) = &cfg.jitter {
            require(
                j.amplitude_deg >= 0.0 && j.amplitude_deg < 10.0,
                ctx,
                "jitter.amplitude_deg",
                "must be in [0, 10)",
            )?;
            match j.kind {
                JitterKind::Tremor => require(
                    j.frequency_hz.is_some_and(|f| f >= 0.0 && f.is_finite()),
                    ctx,
                    "jitter.frequency_hz",
                    "the tremor needs a frequency >= 0",
                )?,
                JitterKind::Microsaccades => {
                    require(
                        j.duration_ms > 0.0 && j.duration_ms.is_finite(),
                        ctx,
                        "jitter.duration_ms",
                        "must be > 0",
                    )?;
                    require(
                        j.rate_hz > 0.0 && j.rate_hz * j.duration_ms * 1e-3 < 1.0,
                        ctx,
                        "jitter.rate_hz",
                        "must be > 0 and leave time between saccades (rate_hz * duration_ms < 1000)",
                    )?;
                    require(
                        j.drift_deg_per_sqrt_s >= 0.0 && j.drift_deg_per_sqrt_s < 10.0,
                        ctx,
                        "jitter.drift_deg_per_sqrt_s",
                        "must be in [0, 10)",
                    )?;
                }
            }
        }
        Ok(ResolvedCamera { cfg })
    }
}

impl EventCamera {
    /// Builds the camera from its configuration and seed (both stages: [`ResolvedCamera`]).
    pub fn new(ctx: &InitContext) -> Result<Self, EngineError> {
        Ok(Self::from_resolved(ResolvedCamera::resolve(ctx)?, ctx))
    }

    /// Builds the renderer and the pixel state of a resolved configuration.
    pub fn from_resolved(resolved: ResolvedCamera, ctx: &InitContext) -> Self {
        let cfg = resolved.cfg;
        let (w, h) = (usize::from(cfg.width), usize::from(cfg.height));
        let renderer = Renderer::new(&cfg.scene, &cfg.camera, w, h, cfg.supersampling as usize);
        let n_bodies = cfg.scene.bodies.len();
        let mut cam = EventCamera {
            seed: ctx.seed,
            renderer,
            rng: Pcg64::seed_from_u64(ctx.seed),
            pixels: None,
            prev_poses: vec![Pose::IDENTITY; n_bodies],
            cur_poses: vec![Pose::IDENTITY; n_bodies],
            interp: vec![Pose::IDENTITY; n_bodies],
            jitter_phase: [0.0; 2],
            gaze: None,
            image: vec![0.0; w * h],
            raw: Vec::new(),
            heap: BinaryHeap::new(),
            regions: Vec::new(),
            scratch_rects: Vec::new(),
            renders: 0,
            cfg,
        };
        cam.reset_state();
        cam
    }

    fn reset_state(&mut self) {
        self.rng = Pcg64::seed_from_u64(self.seed);
        self.jitter_phase = [
            self.rng.random::<f64>() * std::f64::consts::TAU,
            self.rng.random::<f64>() * std::f64::consts::TAU,
        ];
        self.gaze = None;
        self.pixels = None;
        self.renders = 0;
        self.renderer.invalidate();
    }

    /// Onset times (ms) of the micro-saccades so far (empty without `microsaccades` jitter).
    pub fn microsaccade_onsets_ms(&self) -> &[f64] {
        self.gaze.as_ref().map_or(&[], Gaze::onsets_ms)
    }

    /// Number of scene renders so far.
    pub fn renders(&self) -> u64 {
        self.renders
    }

    fn n_pixels(&self) -> usize {
        usize::from(self.cfg.width) * usize::from(self.cfg.height)
    }

    /// Renders at time `t_ms` (poses interpolated with `s` in [0, 1] over the step) into `self.image`.
    fn render_at(&mut self, t_ms: f64, s: f64) {
        for (i, p) in self.interp.iter_mut().enumerate() {
            *p = self.prev_poses[i].lerp(&self.cur_poses[i], s);
        }
        if let Some(j) = &self.cfg.jitter {
            match j.kind {
                JitterKind::Tremor => {
                    let a = j.amplitude_deg.to_radians();
                    let f = j.frequency_hz.unwrap_or(0.0);
                    let w = std::f64::consts::TAU * f * t_ms * 1e-3;
                    self.renderer.set_jitter(
                        a * (w + self.jitter_phase[0]).sin(),
                        a * (1.3 * w + self.jitter_phase[1]).sin(),
                    );
                }
                JitterKind::Microsaccades => {
                    let seed = neuroloop_core::seed::splitmix64(self.seed ^ 0x6a17);
                    let g = self.gaze.get_or_insert_with(|| Gaze::new(j, seed, t_ms));
                    let [yaw, pitch] = g.at(t_ms);
                    self.renderer
                        .set_jitter(yaw.to_radians(), pitch.to_radians());
                }
            }
        }
        self.renderer.render(&self.interp, &mut self.image);
        self.renders += 1;
        let mut rects = std::mem::take(&mut self.scratch_rects);
        self.renderer.changed_pixel_rects(&mut rects);
        self.regions.extend_from_slice(&rects);
        self.scratch_rects = rects;
    }

    /// First render: every pixel's reference is its log intensity (minus a random leak phase).
    fn init_pixels(&mut self, t_ms: f64) {
        self.render_at(t_ms, 0.0);
        let n = self.n_pixels();
        let e = self.cfg.esim.clone();
        let fp = |mean: f64, rng: &mut Pcg64| {
            let z: f64 = StandardNormal.sample(rng);
            (mean + e.threshold_mismatch_sigma * z).max(e.min_threshold)
        };
        let c_on_pixel: Vec<f64> = (0..n).map(|_| fp(e.threshold_on, &mut self.rng)).collect();
        let c_off_pixel: Vec<f64> = (0..n).map(|_| fp(e.threshold_off, &mut self.rng)).collect();
        let log: Vec<f64> = self.image.iter().map(|&i| (e.eps + i).ln()).collect();
        let reference: Vec<f64> = (0..n)
            .map(|i| {
                if e.leak_rate_hz > 0.0 {
                    log[i] - self.rng.random::<f64>() * c_on_pixel[i]
                } else {
                    log[i]
                }
            })
            .collect();
        let leak_per_ms: Vec<f64> = c_on_pixel
            .iter()
            .map(|c| e.leak_rate_hz * 1e-3 * c)
            .collect();
        self.heap.clear();
        let deadline = (0..n)
            .map(|i| {
                if leak_per_ms[i] > 0.0 {
                    let due = t_ms + (c_on_pixel[i] - (log[i] - reference[i])) / leak_per_ms[i];
                    self.heap.push(Reverse((due.to_bits(), i as u32)));
                    due
                } else {
                    f64::INFINITY
                }
            })
            .collect();
        self.regions.clear();
        self.pixels = Some(Pixels {
            intensity: self.image.clone(),
            log,
            reference,
            ref_ms: vec![t_ms; n],
            leak_per_ms,
            deadline,
            c_on: c_on_pixel.clone(),
            c_off: c_off_pixel.clone(),
            c_on_pixel,
            c_off_pixel,
            last_ms: vec![f64::NEG_INFINITY; n],
            unsettled: Vec::new(),
            unsettled_flag: vec![false; n],
        });
    }

    /// Largest |change of log intensity| between the stored image and `self.image`.
    fn max_log_change(&self) -> f64 {
        let px = self.pixels.as_ref().expect("initialized");
        let eps = self.cfg.esim.eps;
        px.intensity
            .iter()
            .zip(&self.image)
            .filter(|(a, b)| a != b)
            .map(|(&a, &b)| ((eps + b).ln() - (eps + a).ln()).abs())
            .fold(0.0, f64::max)
    }

    /// ESIM between the stored samples (at `t0`) and `self.image` (at `t1`); events go to `self.raw`.
    /// Only pixels in the regions the renderer rewrote can have changed; constant pixels are visited
    /// only when their leak deadline falls in the interval.
    fn emit(&mut self, t0: f64, t1: f64) {
        let e = &self.cfg.esim;
        let px = self.pixels.as_mut().expect("initialized");
        let rng = &mut self.rng;
        let w = usize::from(self.cfg.width);
        // Every region rewritten since the last emit (renders refined away included).
        let low_pass = e.cutoff_hz > 0.0;
        for &(x0, x1, y0, y1) in &self.regions {
            for y in y0..y1 {
                for i in y * w + x0..y * w + x1 {
                    let i1 = self.image[i];
                    if i1 != px.intensity[i] {
                        if low_pass {
                            if !px.unsettled_flag[i] {
                                px.unsettled_flag[i] = true;
                                px.unsettled.push(i as u32);
                            }
                        } else {
                            let l1 = (e.eps + i1).ln();
                            update_pixel(
                                px,
                                i,
                                l1,
                                i1,
                                t0,
                                t1,
                                e,
                                rng,
                                &mut self.raw,
                                &mut self.heap,
                            );
                        }
                    }
                }
            }
        }
        if low_pass {
            // v2e's photoreceptor (Hu, Liu & Delbruck 2021): first-order low-pass of the log intensity
            // with tau = 1 / (2 pi cutoff_hz * inten01), inten01 = (255 I + 20) / 275, updated exactly
            // for an input held over the interval.
            let tau_ms = 1e3 / (std::f64::consts::TAU * e.cutoff_hz);
            let settled = 1e-9 * e.threshold_on.min(e.threshold_off);
            // Compacted in place: the pixels still settling keep their order at the front.
            let mut list = std::mem::take(&mut px.unsettled);
            let mut kept = 0;
            for r in 0..list.len() {
                let iu = list[r];
                let i = iu as usize;
                let i1 = self.image[i];
                let target = (e.eps + i1).ln();
                let inten01 = (255.0 * i1 + 20.0) / 275.0;
                let a = -(-inten01 * (t1 - t0) / tau_ms).exp_m1();
                let mut l1 = px.log[i] + a * (target - px.log[i]);
                if (target - l1).abs() <= settled || !l1.is_finite() {
                    l1 = target;
                    px.unsettled_flag[i] = false;
                } else {
                    list[kept] = iu;
                    kept += 1;
                }
                update_pixel(px, i, l1, i1, t0, t1, e, rng, &mut self.raw, &mut self.heap);
            }
            list.truncate(kept);
            px.unsettled = list;
        }
        // Every update pushes a fresh deadline, leaving the old entry stale: rebuild from the live
        // deadlines when stale entries dominate (keeps the heap within a few times the pixel count).
        if self.heap.len() > 2 * px.deadline.len() + 4096 {
            let live: Vec<Reverse<(u64, u32)>> = px
                .deadline
                .iter()
                .enumerate()
                .filter(|(_, d)| d.is_finite())
                .map(|(i, d)| Reverse((d.to_bits(), i as u32)))
                .collect();
            self.heap = BinaryHeap::from(live);
        }
        while let Some(&Reverse((bits, i))) = self.heap.peek() {
            let due = f64::from_bits(bits);
            if due >= t1 {
                break;
            }
            self.heap.pop();
            let i = i as usize;
            if px.deadline[i] != due {
                continue; // stale: the pixel was updated since
            }
            let (l, inten) = (px.log[i], px.intensity[i]);
            update_pixel(
                px,
                i,
                l,
                inten,
                t0,
                t1,
                e,
                rng,
                &mut self.raw,
                &mut self.heap,
            );
        }
        if e.shot_noise_rate_hz > 0.0 {
            let span = t1 - t0;
            let lambda = e.shot_noise_rate_hz * span * 1e-3 * self.image.len() as f64;
            let k: f64 = Poisson::new(lambda).map(|d| d.sample(rng)).unwrap_or(0.0);
            for _ in 0..k as u64 {
                let i = rng.random_range(0..self.image.len());
                let t = t0 + rng.random::<f64>() * span;
                let on = rng.random::<bool>();
                if (t - px.last_ms[i]).abs() >= e.refractory_ms {
                    px.last_ms[i] = px.last_ms[i].max(t);
                    self.raw.push((t, i as u32, on));
                }
            }
        }
        self.regions.clear();
    }
}

/// The camera's ports: `body_poses` in (7 per scene body; none without bodies), `events` out, and
/// `frame` out with `frame_output`.
fn camera_ports(cfg: &EventCameraConfig) -> Vec<PortSpec> {
    let mut ports = Vec::new();
    let bodies = &cfg.scene.bodies;
    if !bodies.is_empty() {
        let mut ch = Vec::new();
        for b in bodies {
            for (q, u) in [
                ("x", "m"),
                ("y", "m"),
                ("z", "m"),
                ("qw", "1"),
                ("qx", "1"),
                ("qy", "1"),
                ("qz", "1"),
            ] {
                ch.push((format!("{b}.{q}"), u));
            }
        }
        let ch: Vec<(&str, &str)> = ch.iter().map(|(n, u)| (n.as_str(), *u)).collect();
        ports.push(PortSpec::input("body_poses", PortKind::analog(&ch)));
    }
    ports.push(PortSpec::output(
        "events",
        PortKind::Events {
            width: cfg.width,
            height: cfg.height,
        },
    ));
    if cfg.frame_output {
        let w = cfg.width;
        let names: Vec<String> = (0..cfg.height)
            .flat_map(|y| (0..w).map(move |x| format!("p{y}_{x}")))
            .collect();
        let ch: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
        ports.push(PortSpec::output("frame", PortKind::analog(&ch)));
    }
    ports
}

impl Engine for EventCamera {
    fn ports(&self) -> Vec<PortSpec> {
        camera_ports(&self.cfg)
    }

    fn step(
        &mut self,
        ctx: &StepContext,
        inputs: &Inputs,
        outputs: &mut Outputs,
    ) -> Result<(), EngineError> {
        let has_input = !self.cfg.scene.bodies.is_empty();
        let out_events = usize::from(has_input);
        if has_input {
            let x = inputs.analog(IN_POSES);
            if x.len() != 7 * self.cur_poses.len() {
                return Err(EngineError::Model(format!(
                    "body_poses has {} values, expected {} (7 per body)",
                    x.len(),
                    7 * self.cur_poses.len()
                )));
            }
            if x.iter().any(|v| !v.is_finite()) {
                return Err(EngineError::Model(format!(
                    "body_poses holds a non-finite value at {} ms",
                    ctx.t_ms()
                )));
            }
            std::mem::swap(&mut self.prev_poses, &mut self.cur_poses);
            for (i, p) in self.cur_poses.iter_mut().enumerate() {
                *p = Pose::from_slice(&x[7 * i..7 * i + 7]);
            }
            if self.pixels.is_none() {
                self.prev_poses.clone_from(&self.cur_poses);
            }
        }
        let (t_start, step_ms) = (ctx.t_ms(), ctx.dt_ms());
        if self.pixels.is_none() {
            self.init_pixels(t_start);
        }
        if let Some(g) = &mut self.gaze {
            g.forget_before(t_start);
        }
        self.raw.clear();
        let r = self.cfg.render.clone();
        let n = crate::substeps_at_run(step_ms, r.dt_ms)?;
        match r.mode {
            RenderMode::Fixed => {
                for k in 1..=n {
                    let t0 = t_start + f64::from(k - 1) * r.dt_ms;
                    let t1 = t_start + f64::from(k) * r.dt_ms;
                    self.render_at(t1, f64::from(k) / f64::from(n));
                    self.emit(t0, t1);
                }
            }
            RenderMode::Motion => {
                let mut motion = self
                    .renderer
                    .max_motion_px(&self.prev_poses, &self.cur_poses);
                let to_px = self.renderer.pixels_per_rad();
                match (&self.cfg.jitter, &mut self.gaze) {
                    (Some(j), _) if j.kind == JitterKind::Tremor => {
                        // Bound of the tremor's angular travel over the step (pitch at 1.3 f).
                        let w = j.amplitude_deg.to_radians()
                            * std::f64::consts::TAU
                            * j.frequency_hz.unwrap_or(0.0)
                            * 1.3;
                        motion += w * step_ms * 1e-3 * to_px * std::f64::consts::SQRT_2;
                    }
                    (Some(_), Some(g)) => {
                        let v = g.max_speed_deg_per_ms(t_start, t_start + step_ms);
                        motion += v.to_radians() * step_ms * to_px;
                    }
                    _ => {}
                }
                let n_min = f64::from(n);
                let n_max = (step_ms / r.min_dt_ms).floor().max(n_min);
                let m = (motion / r.max_pixel_motion).ceil().clamp(n_min, n_max) as u32;
                let h = step_ms / f64::from(m);
                for k in 1..=m {
                    let t0 = t_start + f64::from(k - 1) * h;
                    let t1 = if k == m {
                        t_start + step_ms
                    } else {
                        t_start + f64::from(k) * h
                    };
                    self.render_at(t1, f64::from(k) / f64::from(m));
                    self.emit(t0, t1);
                }
            }
            RenderMode::Adaptive => {
                let limit =
                    r.max_log_change * self.cfg.esim.threshold_on.min(self.cfg.esim.threshold_off);
                let mut done = 0.0; // ms into the step
                let mut h = r.dt_ms;
                while done < step_ms - 1e-12 {
                    let end = (done + h).min(step_ms);
                    self.render_at(t_start + end, end / step_ms);
                    if h > r.min_dt_ms * (1.0 + 1e-9) && self.max_log_change() > limit {
                        h /= 2.0;
                        continue;
                    }
                    self.emit(t_start + done, t_start + end);
                    done = end;
                    h = (h * 2.0).min(r.dt_ms);
                }
            }
        }
        self.raw.sort_by(|a, b| a.0.total_cmp(&b.0));
        let w = u32::from(self.cfg.width);
        let out: &mut EventBatch = outputs.events_mut(out_events);
        for &(t, i, on) in &self.raw {
            out.push((i % w) as u16, (i / w) as u16, t, on);
        }
        if self.cfg.frame_output {
            let frame = outputs.analog_mut(out_events + 1);
            frame.fill(0.0);
            for &(_, i, on) in &self.raw {
                frame[i as usize] += if on { 1.0 } else { -1.0 };
            }
        }
        Ok(())
    }

    fn reset(&mut self) -> Result<(), EngineError> {
        self.reset_state();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saccades(rate_hz: f64, drift: f64) -> JitterConfig {
        JitterConfig {
            kind: JitterKind::Microsaccades,
            amplitude_deg: 0.25,
            frequency_hz: None,
            rate_hz,
            duration_ms: 20.0,
            drift_deg_per_sqrt_s: drift,
        }
    }

    #[test]
    fn microsaccades_come_at_the_configured_rate_and_keep_the_gaze_near_fixation() {
        for rate in [1.0, 3.0] {
            let mut g = Gaze::new(&saccades(rate, 0.1), 5, 0.0);
            let seconds = 1000.0;
            let mut far: f64 = 0.0;
            for k in 0..(seconds as usize) {
                let [y, p] = g.at(k as f64 * 1e3);
                far = far.max(y.hypot(p));
                g.forget_before(k as f64 * 1e3);
            }
            let n = g.onsets_ms().len() as f64;
            let expected = rate * seconds;
            assert!(
                (n - expected).abs() < 0.05 * expected,
                "{n} saccades at {rate} Hz"
            );
            // Saccades aim back towards the fixation point: the gaze stays within a few saccades.
            assert!(far < 1.0, "gaze wandered {far} deg away");
            // No two saccades overlap.
            assert!(g.onsets_ms().windows(2).all(|w| w[1] - w[0] >= 20.0));
        }
    }

    #[test]
    fn gaze_path_depends_on_seed_and_time_only() {
        // Without drift each saccade moves the gaze by exactly its amplitude, and nothing else does.
        let mut g = Gaze::new(&saccades(2.0, 0.0), 1, 0.0);
        let path: Vec<[f64; 2]> = (0..20_000).map(|k| g.at(k as f64 * 0.5)).collect();
        let onsets = g.onsets_ms().to_vec();
        assert!(onsets.len() > 5);
        for &t in &onsets {
            let (a, b) = ((t / 0.5) as usize, ((t + 20.0) / 0.5).ceil() as usize + 1);
            let d = (path[b][0] - path[a][0]).hypot(path[b][1] - path[a][1]);
            assert!((d - 0.25).abs() < 1e-9, "saccade at {t}: {d}");
        }
        let still = |k: usize| {
            onsets
                .iter()
                .all(|&t| (k as f64 * 0.5) < t || (k as f64 * 0.5) > t + 20.5)
        };
        for k in 1..path.len() {
            if still(k) && still(k - 1) {
                assert_eq!(path[k], path[k - 1]);
            }
        }
        // Read at other times (with drift): the same path where the times coincide.
        let j = saccades(2.0, 0.1);
        let mut a = Gaze::new(&j, 3, 0.0);
        let mut b = Gaze::new(&j, 3, 0.0);
        let mut c = Gaze::new(&j, 4, 0.0);
        let mut differs = false;
        for k in 0..5000 {
            let t = k as f64;
            let _ = b.at(t - 0.37);
            let _ = b.at(t - 0.13);
            assert_eq!(a.at(t), b.at(t));
            differs |= a.at(t) != c.at(t);
        }
        assert!(differs);
    }

    #[test]
    fn photoreceptor_low_pass_follows_the_first_order_step_response() {
        let eps = 0.001;
        let c = 0.1;
        let cutoff_hz = 300.0;
        let tau_ms = 1e3 / (std::f64::consts::TAU * cutoff_hz);
        // A bright step (fast) and a step down to a dark level (slow: v2e's intensity scaling).
        for (i0, i1) in [(0.2f64, 0.8f64), (0.8, 0.05)] {
            let ctx = InitContext {
                name: "dvs".into(),
                config: serde_json::json!({
                    "width": 1, "height": 1, "scene": { "bodies": [], "planes": [] },
                    "esim": { "threshold_on": c, "threshold_off": c, "threshold_mismatch_sigma": 0.0,
                              "threshold_noise_sigma": 0.0, "leak_rate_hz": 0.0,
                              "shot_noise_rate_hz": 0.0, "refractory_ms": 0.0,
                              "cutoff_hz": cutoff_hz }
                }),
                seed: 1,
                base_step_ms: 1.0,
                period: 1,
                episode: 0,
            };
            let mut cam = EventCamera::new(&ctx).unwrap();
            cam.init_pixels(0.0);
            let (l0, l1) = ((eps + i0).ln(), (eps + i1).ln());
            {
                let px = cam.pixels.as_mut().unwrap();
                px.intensity[0] = i0;
                px.log[0] = l0;
                px.reference[0] = l0;
            }
            cam.image[0] = i1;
            cam.regions.push((0, 1, 0, 1));
            let tau_eff = tau_ms / ((255.0 * i1 + 20.0) / 275.0);
            let dt = 0.001;
            for k in 0..150_000 {
                cam.emit(f64::from(k) * dt, f64::from(k + 1) * dt);
                if k % 1000 == 999 {
                    // The filtered log intensity is the exact first-order response.
                    let t = f64::from(k + 1) * dt;
                    let want = l1 + (l0 - l1) * (-t / tau_eff).exp();
                    let got = cam.pixels.as_ref().unwrap().log[0];
                    assert!((got - want).abs() < 1e-9, "{t} ms: {got} vs {want}");
                }
            }
            // One event per threshold crossed, at t_k = -tau ln(1 - k C / |L1 - L0|).
            let n = ((l1 - l0).abs() / c).floor() as usize;
            assert_eq!(cam.raw.len(), n, "{:?}", cam.raw);
            for (k, ev) in cam.raw.iter().enumerate() {
                let frac = (k + 1) as f64 * c / (l1 - l0).abs();
                let want = -tau_eff * (1.0 - frac).ln();
                assert_eq!(ev.2, i1 > i0);
                assert!(
                    (ev.0 - want).abs() < 2.0 * dt,
                    "event {k}: {} vs {want}",
                    ev.0
                );
            }
            // Settled: no pixel is left to update.
            assert!(cam.pixels.as_ref().unwrap().unsettled.is_empty());
        }
    }

    #[test]
    fn event_times_are_interpolated_linearly_between_samples() {
        let ctx = InitContext {
            name: "dvs".into(),
            config: serde_json::json!({
                "width": 1, "height": 1, "scene": { "planes": [] },
                "esim": { "threshold_on": 0.3, "threshold_off": 0.3, "threshold_mismatch_sigma": 0.0,
                          "threshold_noise_sigma": 0.0, "leak_rate_hz": 0.0, "shot_noise_rate_hz": 0.0,
                          "refractory_ms": 0.0 }
            }),
            seed: 1,
            base_step_ms: 1.0,
            period: 1,
            episode: 0,
        };
        let mut cam = EventCamera::new(&ctx).unwrap();
        cam.init_pixels(0.0);
        let eps = 0.001;
        let (i0, i1) = (0.2, 0.8);
        {
            let px = cam.pixels.as_mut().unwrap();
            px.intensity[0] = i0;
            px.log[0] = (eps + i0).ln();
            px.reference[0] = px.log[0];
        }
        cam.image[0] = i1;
        cam.regions.push((0, 1, 0, 1));
        cam.emit(10.0, 12.0);
        let (l0, l1) = ((eps + i0).ln(), (eps + i1).ln());
        let expected: Vec<f64> = (1..=4)
            .map(|k| 10.0 + (f64::from(k) * 0.3) / (l1 - l0) * 2.0)
            .collect();
        assert_eq!(cam.raw.len(), 4);
        for (e, t) in cam.raw.iter().zip(&expected) {
            assert!(e.2 && (e.0 - t).abs() < 1e-12, "{e:?} vs {t}");
        }
        // The reference moved by 4 thresholds; going back down gives OFF events.
        let px = cam.pixels.as_ref().unwrap();
        assert!((px.reference[0] - (l0 + 1.2)).abs() < 1e-12);
    }
}
