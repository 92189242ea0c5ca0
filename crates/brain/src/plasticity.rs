//! Plastic synapses after NEST's: per-connection update rules, and the postsynaptic spike archive and
//! dopamine signal they read.
//!
//! Source: NEST 3.10 `stdp_synapse`, `stdp_dopamine_synapse`, `volume_transmitter`, `ArchivingNode`.
//! Each module names its paper; `tests/stdp_vs_nest.rs` checks the weights against NEST 3.10.
//!
//! The rules are event-driven, as in NEST: a synapse's state changes only when the network calls one of
//! its functions. The network holds, per plastic projection, the common parameters (one `Params`) and
//! one `State` per synapse (a `Copy` struct, in a `Vec`); per postsynaptic neuron a [`PostArchive`]
//! (NEST's `ArchivingNode`: the neuron's `tau_minus`, its trace `Kminus` and its recent spikes); per
//! dopamine source a [`DopamineSignal`] (NEST's `volume_transmitter`).
//!
//! **Call contract** (NEST's order; results match NEST only if it is kept). Time advances in slices of
//! `m` steps, `m` the smallest delay in the network; a slice from `O h` to `(O + m) h`:
//! 1. *deliver*: every presynaptic spike emitted in the previous slice, in time order, goes through
//!    `send(.., t_spike_ms, delay_ms, ..)` of each of its plastic synapses, which returns the weight
//!    the target gets (the weight after the update; NEST's `weight_recorder` records this value);
//! 2. *update*: the neurons are stepped; a neuron that fires at `t` (a step end) calls
//!    [`PostArchive::record_spike`]; dopamine spikes arriving at `t` (emission time + delay) go into
//!    [`DopamineSignal::add_spike`]; at the slice end `t_trig = (O + m) h`, if
//!    [`DopamineSignal::trigger_due`], [`DopamineSignal::deliver`] notes the delivery (NEST's
//!    `trigger_update_weight` of every synapse, which each `stdp_dopamine_synapse` catches up with
//!    when next used; `stdp_dopamine_synapse::carry_to_delivery` for every synapse of the signal
//!    when its parameters need every delivery, or at a sweep, followed by
//!    [`DopamineSignal::forget_read`]).
//!
//! The delay of a plastic synapse is all dendritic (NEST's default): it reads the postsynaptic spikes
//! up to `t_spike - delay`. Each synapse must be registered with its target's archive before the first
//! spike (`stdp_synapse::connect`, `stdp_dopamine_synapse::connect`), as NEST does in `Connect`.
//!
//! **Threads**: a [`PostArchive`] is read (and its access counters bumped) by the synapses ending on
//! its neuron, on the thread that owns the neuron; it is `Send`, not `Sync`. A [`DopamineSignal`] is
//! read by all its synapses on every thread (it is `Sync`): feed it and note a delivery, then (where
//! needed) carry synapses on every thread, then call `forget_read` once after a sweep, with barriers
//! between these phases. A delivery at
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
