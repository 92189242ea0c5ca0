//! Plastic synapses after NEST's: per-connection update rules, and the postsynaptic spike archive and
//! dopamine signal they read.
//!
//! Source: NEST 3.10 `stdp_synapse`, `stdp_dopamine_synapse`, `volume_transmitter`, `ArchivingNode`.
//! Each module names its paper; `tests/stdp_vs_nest.rs` checks the weights against NEST 3.10.
//!
//! The rules are event-driven, as in NEST: a synapse's state changes only when the network calls one of
//! its functions. The network holds, per plastic projection, the common parameters (one `Params`;
//! `stdp_dopamine_synapse`: a `Rule`, the parameters with tables, and one `Row` per presynaptic
//! neuron) and one `State` per synapse (a `Copy` struct, in a `Vec`); per postsynaptic neuron a [`PostArchive`]
//! (NEST's `ArchivingNode`: the neuron's `tau_minus`, its trace `Kminus` and its recent spikes); per
//! dopamine source a [`DopamineSignal`] (NEST's `volume_transmitter`).
//!
//! **Call contract** (NEST's order; results match NEST only if it is kept). Time advances in slices of
//! `m` steps, `m` the smallest delay in the network; a slice from `O h` to `(O + m) h`:
//! 1. *deliver*: every presynaptic spike emitted in the previous slice, in time order, goes through
//!    `send(.., t_spike_ms, delay_ms, ..)` of each of its plastic synapses (`stdp_dopamine_synapse`:
//!    `send_row(.., t_spike_ms, ..)` of its row, then `Update::send` of each synapse), which returns the weight
//!    the target gets (the weight after the update; NEST's `weight_recorder` records this value);
//! 2. *update*: the neurons are stepped; a neuron that fires at `t` (a step end) calls
//!    [`PostArchive::record_spike`]; dopamine spikes arriving at `t` (emission time + delay) go into
//!    [`DopamineSignal::add_spike`]; at the slice end `t_trig = (O + m) h`, if
//!    [`DopamineSignal::trigger_due`], [`DopamineSignal::deliver`] notes the delivery (NEST's
//!    `trigger_update_weight` of every synapse, which each `stdp_dopamine_synapse` catches up with
//!    when next used; `stdp_dopamine_synapse::carry_row` for every row of the signal
//!    when its parameters need every delivery, or at a sweep, followed by
//!    [`DopamineSignal::forget_read`]).
//!
//! The delay of a plastic synapse is all dendritic (NEST's default): it reads the postsynaptic spikes
//! up to `t_spike - delay`. Each synapse must be registered with its target's archive before the first
//! spike (`stdp_synapse::connect`, `stdp_dopamine_synapse::connect`), as NEST does in `Connect`.
//!
//! **Threads**: a [`PostArchive`] is read (and its access counters bumped) by the synapses ending on
//! its neuron, on the thread that owns the neuron; it is `Send`, not `Sync`. A [`DopamineSignal`] is
//! read by all its synapses: the network gives every thread its own copy and feeds the copies the
//! same arrivals in the same order, so that each thread notes the deliveries, carries its synapses
//! where needed and calls `forget_read` after a sweep without waiting for the others. A delivery at
//! `t_trig` reads only postsynaptic spikes up to `t_trig - delay <= t_trig - m h`, so it may run
//! before or after the neurons' update of the slice, but it must run before the pre spikes of that
//! slice are delivered.
//! Times are in ms on the grid; NEST computes them as `tics * 0.001` (the rules only compare times with
//! a tolerance of [`STDP_EPS_MS`], so a last-bit difference in `k * h` changes nothing but rounding).
//!
//! ```
//! use neuroloop_brain::plasticity::{stdp_synapse, PostArchive};
//!
//! // Additive STDP, one synapse of delay 1 ms onto a neuron with tau_minus = 20 ms.
//! let p = stdp_synapse::Params { mu_plus: 0.0, mu_minus: 0.0, ..Default::default() };
//! let mut syn = stdp_synapse::State::new(50.0, &p).unwrap();
//! let mut post = PostArchive::new(20.0).unwrap();
//! stdp_synapse::connect(&syn, 1.0, &mut post);
//! // Pre spike at 10 ms, post spike at 15 ms (seen by the synapse at 16 ms), pre spike at 200 ms.
//! assert_eq!(stdp_synapse::send(&p, &mut syn, 10.0, 1.0, &post), 50.0);
//! post.record_spike(15.0, 1.0);
//! let w = stdp_synapse::send(&p, &mut syn, 200.0, 1.0, &post);
//! let potentiation = p.lambda * (-6.0f64 / p.tau_plus).exp() * p.w_max;
//! let depression = p.alpha * p.lambda * (-(199.0 - 15.0) / 20.0f64).exp() * p.w_max;
//! assert!((w - (50.0 + potentiation - depression)).abs() < 1e-12);
//! ```
//!
//! Not modelled: precise (off-grid) spike times, axonal delays, NEST's other plastic synapses
//! (triplet, `stdp_synapse_hom`, `stdp_pl_synapse_hom`, ...), spikes with multiplicity > 1 from a
//! presynaptic neuron, changing parameters during a run.

pub mod archive;
pub mod stdp_dopamine_synapse;
pub mod stdp_synapse;

pub use archive::PostArchive;
pub use stdp_dopamine_synapse::DopamineSignal;

/// NEST's `stdp_eps` (ms): two spike times closer than this count as simultaneous.
pub const STDP_EPS_MS: f64 = 1.0e-6;

/// A function of a time difference and a parameter (`exp(-dt/tau)`, ...) tabulated on the grid of
/// resolution `h`: `f(k h)` for `k` in `-GRID_TABLE_BEFORE..GRID_TABLE_AFTER`, each value computed
/// by the function itself; other `k` are computed when asked for. Spike times are grid times, so
/// the rules' time differences are whole numbers of steps: a lookup gives the function's value at the
/// exact difference `k h` (NEST computes it at `t_a - t_b`, with `t = tics * 0.001` rounded: an
/// argument off by up to an ulp of `t`).
#[derive(Clone, Debug)]
pub(crate) struct GridTable {
    h_ms: f64,
    f: fn(f64, f64) -> f64,
    param: f64,
    values: Box<[f64]>,
}

/// Steps before 0 held by a [`GridTable`] (backward updates span less than a min delay).
pub(crate) const GRID_TABLE_BEFORE: usize = 256;
/// Steps from 0 on held by a [`GridTable`].
pub(crate) const GRID_TABLE_AFTER: usize = 4096;

impl GridTable {
    /// The table of `f(k h_ms, param)`, `h_ms > 0`.
    pub(crate) fn new(h_ms: f64, param: f64, f: fn(f64, f64) -> f64) -> GridTable {
        let values = (0..GRID_TABLE_BEFORE + GRID_TABLE_AFTER)
            .map(|i| f((i as i64 - GRID_TABLE_BEFORE as i64) as f64 * h_ms, param))
            .collect();
        GridTable {
            h_ms,
            f,
            param,
            values,
        }
    }

    /// `f(k h, param)`.
    #[inline]
    pub(crate) fn at(&self, k: i64) -> f64 {
        match self
            .values
            .get(k.wrapping_add(GRID_TABLE_BEFORE as i64) as usize)
        {
            Some(&v) => v,
            None => self.compute(k),
        }
    }

    #[cold]
    fn compute(&self, k: i64) -> f64 {
        (self.f)(k as f64 * self.h_ms, self.param)
    }
}

/// `exp(-dt/tau)`, the decay of a trace over `dt` ms, as NEST writes it (`exp(minus_dt / tau)`).
pub(crate) fn decay(dt_ms: f64, tau: f64) -> f64 {
    (-dt_ms / tau).exp()
}

/// `exp(-dt/tau)` from `1/tau`, as NEST's `ArchivingNode` writes it (`exp(minus_dt * tau_inv)`).
pub(crate) fn decay_by_rate(dt_ms: f64, tau_inv: f64) -> f64 {
    (-dt_ms * tau_inv).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_table_gives_the_function_at_every_step() {
        let t = GridTable::new(0.1, 20.0, decay);
        for k in [-100_000i64, -257, -256, -1, 0, 1, 234, 4095, 4096, 100_000] {
            assert_eq!(t.at(k), decay(k as f64 * 0.1, 20.0), "{k}");
        }
        assert_eq!(t.at(0), 1.0);
        // As NEST computes the difference (tics * 0.001), within a few ulps.
        let dt = (123_400.0 * 0.001) - (100_000.0 * 0.001);
        assert!((t.at(234) - decay(dt, 20.0)).abs() <= 4.0 * f64::EPSILON);
    }
}
