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
//! Output `events`: an [`EventBatch`](neuroloop_core::payload::EventBatch) of the `width` x `height`
//! sensor (x right, y down), ON = `true`. Optional `frame` (analog, `width * height` channels
//! `p<y>_<x>`): ON minus OFF events of the step, for debugging.
//!
//! Optional camera jitter (`jitter`), so that a static scene is seen, both seeded and functions of
//! simulated time only: `kind = "tremor"` (default), yaw and pitch `amplitude_deg * sin(2 pi f t +
//! phase)` (pitch at 1.3 f), phases from the seed; or `kind = "microsaccades"`, fixational eye
//! movements ([`Gaze`]): a drift random walk of `drift_deg_per_sqrt_s` per axis plus saccades of
//! `amplitude_deg` lasting `duration_ms` (raised-cosine profile) at times of a Poisson process of
//! `rate_hz` (intervals: the duration plus an exponential wait), each aimed at a random angle within
//! 90 degrees of the way back to the fixation point.

mod config;
mod engine;
mod gaze;
mod pixel;

pub use config::*;
pub use engine::*;
pub use gaze::*;
use pixel::*;

#[cfg(test)]
mod tests;
