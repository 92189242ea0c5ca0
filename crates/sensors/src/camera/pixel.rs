use super::*;

use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Per-pixel ESIM state, struct of arrays.
#[derive(Clone, Debug)]
pub(super) struct Pixels {
    /// Last rendered intensity and its log.
    pub(super) intensity: Vec<f64>,
    pub(super) log: Vec<f64>,
    /// Reference level at time `ref_ms` (it drifts down by `leak_per_ms` per ms after that).
    pub(super) reference: Vec<f64>,
    pub(super) ref_ms: Vec<f64>,
    /// Leak drift of the reference, log units per ms.
    pub(super) leak_per_ms: Vec<f64>,
    /// When a constant pixel next emits a leak event (infinite without leak); the heap holds
    /// (time bits, pixel) and entries whose time no longer matches are stale.
    pub(super) deadline: Vec<f64>,
    /// Fixed-pattern thresholds.
    pub(super) c_on_pixel: Vec<f64>,
    pub(super) c_off_pixel: Vec<f64>,
    /// Thresholds for the next crossing.
    pub(super) c_on: Vec<f64>,
    pub(super) c_off: Vec<f64>,
    /// Time of the last emitted event, ms.
    pub(super) last_ms: Vec<f64>,
    /// Photoreceptor low-pass: pixels whose filtered log intensity (`log`) has not yet reached the
    /// log of their intensity, and a flag per pixel for membership.
    pub(super) unsettled: Vec<u32>,
    pub(super) unsettled_flag: Vec<bool>,
}

/// Per-pixel ESIM between `(t0, log[i])` and `(t1, l1)`, with the reference drifting by the leak;
/// pushes events to `raw` and the pixel's next leak deadline to `heap`.
#[allow(clippy::too_many_arguments)]
pub(super) fn update_pixel(
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
pub(super) type RawEvent = (f64, u32, bool);
