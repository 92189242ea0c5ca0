use super::*;

use neuroloop_core::engine::{
    Engine, EngineError, InitContext, Inputs, Outputs, ResolvedConfig, StepContext,
};
use neuroloop_core::payload::EventBatch;
use neuroloop_core::port::{PortKind, PortSpec};
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Poisson, StandardNormal};
use rand_pcg::Pcg64;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::engine_config::{config_error, load_world, substeps, substeps_at_run};
use crate::scene::{Pose, Renderer};
use neuroloop_core::engine::require;

/// The event camera engine (see the [module docs](super)).
pub struct EventCamera {
    cfg: EventCameraConfig,
    seed: u64,
    renderer: Renderer,
    rng: Pcg64,
    pub(super) pixels: Option<Pixels>,
    prev_poses: Vec<Pose>,
    cur_poses: Vec<Pose>,
    interp: Vec<Pose>,
    jitter_phase: [f64; 2],
    gaze: Option<Gaze>,
    pub(super) image: Vec<f64>,
    pub(super) raw: Vec<RawEvent>,
    heap: BinaryHeap<Reverse<(u64, u32)>>,
    pub(super) regions: Vec<(usize, usize, usize, usize)>,
    scratch_rects: Vec<(usize, usize, usize, usize)>,
    /// Renders done so far (for benchmarks).
    renders: u64,
}

pub(super) const IN_POSES: usize = 0;

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
    pub(super) fn init_pixels(&mut self, t_ms: f64) {
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
    pub(super) fn emit(&mut self, t0: f64, t1: f64) {
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
pub(super) fn camera_ports(cfg: &EventCameraConfig) -> Vec<PortSpec> {
    let mut ports = Vec::new();
    let bodies = &cfg.scene.bodies;
    if !bodies.is_empty() {
        let mut ch = Vec::new();
        for b in bodies {
            for (q, u) in neuroloop_body::engine::POSE_CHANNELS {
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
        let n = substeps_at_run(step_ms, r.dt_ms)?;
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
