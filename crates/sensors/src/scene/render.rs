use super::*;

/// Camera orientation and optics.
#[derive(Clone, Copy, Debug)]
pub(super) struct CameraFrame {
    origin: V3,
    right: V3,
    up: V3,
    forward: V3,
}

/// Ray caster for one scene and camera.
pub struct Renderer {
    width: usize,
    height: usize,
    ss: usize,
    tan_half: f64,
    base: CameraFrame,
    frame: CameraFrame,
    /// Image-plane coordinates (u, v) of each sub-sample ray, row-major over (y*ss + sy, x*ss + sx).
    uv: Vec<(f64, f64)>,
    dynamic: Vec<(usize, usize, Pose, Shape, f64, Texture)>,
    static_objects: Vec<(Pose, Shape, f64, Texture)>,
    planes: Vec<PlaneConfig>,
    light_dir: V3,
    ambient: f64,
    irradiance: f64,
    background: f64,
    cache_valid: bool,
    full_next: bool,
    last_full: bool,
    dirs: Vec<V3>,
    rects: Vec<(usize, usize, usize, usize)>,
    prev_rects: Vec<(usize, usize, usize, usize)>,
    cache_depth: Vec<f64>,
    cache_value: Vec<f64>,
    depth: Vec<f64>,
    value: Vec<f64>,
}

impl Renderer {
    /// A renderer for a validated scene (see [`SceneConfig::validate`]).
    pub fn new(
        scene: &SceneConfig,
        cam: &CameraPoseConfig,
        width: usize,
        height: usize,
        ss: usize,
    ) -> Self {
        let forward = normalize(sub(cam.look_at_m, cam.position_m));
        let mut right = cross(forward, cam.up);
        if norm(right) < 1e-9 {
            right = cross(forward, [1.0, 0.0, 0.0]);
        }
        let right = normalize(right);
        let up = cross(right, forward);
        let base = CameraFrame {
            origin: cam.position_m,
            right,
            up,
            forward,
        };
        let tan_half = (cam.fov_deg.to_radians() / 2.0).tan();
        let (sw, sh) = (width * ss, height * ss);
        let aspect = height as f64 / width as f64;
        let mut uv = Vec::with_capacity(sw * sh);
        for sy in 0..sh {
            for sx in 0..sw {
                let u = ((sx as f64 + 0.5) / sw as f64 * 2.0 - 1.0) * tan_half;
                let v = (1.0 - (sy as f64 + 0.5) / sh as f64 * 2.0) * tan_half * aspect;
                uv.push((u, v));
            }
        }
        let dynamic = scene
            .objects
            .iter()
            .filter_map(|o| {
                let b = scene
                    .bodies
                    .iter()
                    .position(|n| Some(n) == o.body.as_ref())?;
                Some((
                    b,
                    0,
                    object_offset(o),
                    o.shape.clone(),
                    o.reflectance,
                    o.texture.clone(),
                ))
            })
            .collect();
        let static_objects = scene
            .objects
            .iter()
            .filter(|o| o.body.is_none())
            .map(|o| {
                (
                    object_offset(o),
                    o.shape.clone(),
                    o.reflectance,
                    o.texture.clone(),
                )
            })
            .collect();
        Renderer {
            width,
            height,
            ss,
            tan_half,
            base,
            frame: base,
            uv,
            dynamic,
            static_objects,
            planes: scene
                .planes
                .iter()
                .map(|p| PlaneConfig {
                    normal: normalize(p.normal),
                    ..p.clone()
                })
                .collect(),
            light_dir: normalize(scene.light.direction),
            ambient: scene.light.ambient,
            irradiance: scene.light.irradiance,
            background: scene.background_irradiance,
            cache_valid: false,
            full_next: true,
            last_full: true,
            dirs: Vec::new(),
            rects: Vec::new(),
            prev_rects: Vec::new(),
            cache_depth: vec![0.0; sw * sh],
            cache_value: vec![0.0; sw * sh],
            depth: vec![0.0; sw * sh],
            value: vec![0.0; sw * sh],
        }
    }

    /// Image width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Image height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Turns the camera by small angles (rad) about its up axis (yaw) and right axis (pitch) from its
    /// configured orientation; the static cache is rebuilt when the orientation changes.
    pub fn set_jitter(&mut self, yaw: f64, pitch: f64) {
        let b = self.base;
        let (sy, cy) = yaw.sin_cos();
        let f1 = add(scale(b.forward, cy), scale(b.right, -sy));
        let r1 = add(scale(b.right, cy), scale(b.forward, sy));
        let (sp, cp) = pitch.sin_cos();
        let f2 = add(scale(f1, cp), scale(b.up, sp));
        let u2 = add(scale(b.up, cp), scale(f1, -sp));
        let frame = CameraFrame {
            origin: b.origin,
            right: r1,
            up: u2,
            forward: f2,
        };
        if frame.forward != self.frame.forward || frame.up != self.frame.up {
            self.cache_valid = false;
        }
        self.frame = frame;
    }

    fn ray(&self, i: usize) -> V3 {
        self.dirs[i]
    }

    fn shade(&self, n: V3, albedo: f64) -> f64 {
        let lambert = (-dot(n, self.light_dir)).max(0.0);
        self.irradiance * albedo * (self.ambient + (1.0 - self.ambient) * lambert)
    }

    fn build_cache(&mut self) {
        let o = self.frame.origin;
        let f = self.frame;
        self.dirs.clear();
        self.dirs.extend(
            self.uv
                .iter()
                .map(|&(u, v)| normalize(add(f.forward, add(scale(f.right, u), scale(f.up, v))))),
        );
        for i in 0..self.uv.len() {
            let d = self.ray(i);
            let (mut best_t, mut best_v) = (f64::INFINITY, self.background);
            for p in &self.planes {
                let den = dot(d, p.normal);
                if den < -1e-12 {
                    let t = dot(sub(p.point_m, o), p.normal) / den;
                    if t > T_MIN && t < best_t {
                        let x = add(o, scale(d, t));
                        best_t = t;
                        best_v = self.shade(p.normal, p.reflectance * p.texture.factor(x));
                    }
                }
            }
            for (pose, shape, refl, tex) in &self.static_objects {
                let lo = pose.inverse_apply(o);
                let ld = pose.unrotate(d);
                if let Some((t, n)) = shape.intersect(lo, ld) {
                    if t < best_t {
                        best_t = t;
                        let lp = add(lo, scale(ld, t));
                        best_v = self.shade(pose.rotate(n), refl * tex.factor(lp));
                    }
                }
            }
            self.cache_depth[i] = best_t;
            self.cache_value[i] = best_v;
        }
        self.cache_valid = true;
    }

    /// Renders the scene for the given body poses (one per scene body) into `image` (width x height,
    /// row-major, y down), each pixel the mean of its sub-samples. `image` must hold this renderer's
    /// previous output: only the pixels that moving objects covered in the previous or this render are
    /// rewritten (all of them after the camera moved).
    pub fn render(&mut self, body_poses: &[Pose], image: &mut [f64]) {
        let mut full = self.full_next;
        if !self.cache_valid {
            self.build_cache();
            full = true;
        }
        let (sw, sh) = (self.width * self.ss, self.height * self.ss);
        if full {
            self.depth.copy_from_slice(&self.cache_depth);
            self.value.copy_from_slice(&self.cache_value);
        } else {
            for &(x0, x1, y0, y1) in &self.prev_rects {
                for sy in y0..y1 {
                    let r = sy * sw + x0..sy * sw + x1;
                    self.depth[r.clone()].copy_from_slice(&self.cache_depth[r.clone()]);
                    self.value[r.clone()].copy_from_slice(&self.cache_value[r]);
                }
            }
        }
        let mut rects = std::mem::take(&mut self.rects);
        rects.clear();
        let o = self.frame.origin;
        for k in 0..self.dynamic.len() {
            let (b, _, offset, ref shape, refl, ref tex) = self.dynamic[k];
            let pose = body_poses[b].compose(&offset);
            let Some((x0, x1, y0, y1)) =
                self.screen_bounds(&pose, shape.local_half_extents(), sw, sh)
            else {
                continue;
            };
            rects.push((x0, x1, y0, y1));
            let lo = pose.inverse_apply(o);
            for sy in y0..y1 {
                for sx in x0..x1 {
                    let i = sy * sw + sx;
                    let d = self.ray(i);
                    let ld = pose.unrotate(d);
                    if let Some((t, n)) = shape.intersect(lo, ld) {
                        if t < self.depth[i] {
                            self.depth[i] = t;
                            let lp = add(lo, scale(ld, t));
                            self.value[i] = self.shade(pose.rotate(n), refl * tex.factor(lp));
                        }
                    }
                }
            }
        }
        self.last_full = full;
        if full {
            self.downsample((0, sw, 0, sh), image);
        } else {
            for k in 0..self.prev_rects.len() {
                self.downsample(self.prev_rects[k], image);
            }
            for &r in &rects {
                self.downsample(r, image);
            }
        }
        self.rects = std::mem::replace(&mut self.prev_rects, rects);
        self.full_next = false;
    }

    /// Averages the sub-samples of the pixels that overlap the sub-sample rectangle `r`.
    fn downsample(&self, r: (usize, usize, usize, usize), image: &mut [f64]) {
        let ss = self.ss;
        let sw = self.width * ss;
        let w = 1.0 / (ss * ss) as f64;
        let (px0, px1) = (r.0 / ss, r.1.div_ceil(ss));
        let (py0, py1) = (r.2 / ss, r.3.div_ceil(ss));
        for y in py0..py1 {
            for x in px0..px1 {
                let mut s = 0.0;
                for dy in 0..ss {
                    let row = (y * ss + dy) * sw + x * ss;
                    s += self.value[row..row + ss].iter().sum::<f64>();
                }
                image[y * self.width + x] = s * w;
            }
        }
    }

    /// The pixel rectangles [x0, x1) x [y0, y1) the last render rewrote (they may overlap); outside
    /// them every pixel kept its value.
    pub fn changed_pixel_rects(&self, out: &mut Vec<(usize, usize, usize, usize)>) {
        out.clear();
        if self.last_full {
            out.push((0, self.width, 0, self.height));
            return;
        }
        let ss = self.ss;
        for r in self.prev_rects.iter().chain(&self.rects) {
            out.push((r.0 / ss, r.1.div_ceil(ss), r.2 / ss, r.3.div_ceil(ss)));
        }
    }

    /// Forces the next render to rewrite every pixel.
    pub fn invalidate(&mut self) {
        self.full_next = true;
    }

    /// Pixels per radian of camera rotation near the optical axis.
    pub fn pixels_per_rad(&self) -> f64 {
        self.width as f64 / (2.0 * self.tan_half)
    }

    /// Largest displacement in pixels of a corner of a moving object's bounding box between the poses
    /// `a` and `b` (infinite if a corner is behind the camera).
    pub fn max_motion_px(&self, a: &[Pose], b: &[Pose]) -> f64 {
        let f = &self.frame;
        let to_px = self.pixels_per_rad();
        let project = |p: V3| {
            let rel = sub(p, f.origin);
            let z = dot(rel, f.forward);
            (z > 1e-6).then(|| (dot(rel, f.right) / z * to_px, dot(rel, f.up) / z * to_px))
        };
        let mut m: f64 = 0.0;
        for &(body, _, offset, ref shape, _, _) in &self.dynamic {
            let (pa, pb) = (a[body].compose(&offset), b[body].compose(&offset));
            let h = shape.local_half_extents();
            for k in 0..8 {
                let c = [
                    if k & 1 == 0 { -h[0] } else { h[0] },
                    if k & 2 == 0 { -h[1] } else { h[1] },
                    if k & 4 == 0 { -h[2] } else { h[2] },
                ];
                match (project(pa.apply(c)), project(pb.apply(c))) {
                    (Some(x), Some(y)) => m = m.max((x.0 - y.0).hypot(x.1 - y.1)),
                    _ => return f64::INFINITY,
                }
            }
        }
        m
    }

    /// Sub-sample rectangle [x0, x1) x [y0, y1) that holds the projection of the box `pose * [-h, h]`
    /// (conservative: the projection of its 8 corners, plus one sub-sample of margin).
    fn screen_bounds(
        &self,
        pose: &Pose,
        h: V3,
        sw: usize,
        sh: usize,
    ) -> Option<(usize, usize, usize, usize)> {
        let f = &self.frame;
        let aspect = self.height as f64 / self.width as f64;
        let (mut u0, mut u1, mut v0, mut v1) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        let mut behind = 0;
        for k in 0..8 {
            let c = [
                if k & 1 == 0 { -h[0] } else { h[0] },
                if k & 2 == 0 { -h[1] } else { h[1] },
                if k & 4 == 0 { -h[2] } else { h[2] },
            ];
            let rel = sub(pose.apply(c), f.origin);
            let z = dot(rel, f.forward);
            if z <= 1e-6 {
                behind += 1;
                continue;
            }
            let (u, v) = (dot(rel, f.right) / z, dot(rel, f.up) / z);
            u0 = u0.min(u);
            u1 = u1.max(u);
            v0 = v0.min(v);
            v1 = v1.max(v);
        }
        if behind == 8 {
            return None;
        }
        if behind > 0 {
            return Some((0, sw, 0, sh));
        }
        let to_sx = |u: f64| (u / self.tan_half + 1.0) / 2.0 * sw as f64;
        let to_sy = |v: f64| (1.0 - v / (self.tan_half * aspect)) / 2.0 * sh as f64;
        let clampi = |v: f64, n: usize| v.max(0.0).min(n as f64) as usize;
        let x0 = clampi(to_sx(u0).floor() - 1.0, sw);
        let x1 = clampi(to_sx(u1).ceil() + 1.0, sw);
        let y0 = clampi(to_sy(v1).floor() - 1.0, sh);
        let y1 = clampi(to_sy(v0).ceil() + 1.0, sh);
        (x0 < x1 && y0 < y1).then_some((x0, x1, y0, y1))
    }
}
