//! The brain engine's neuron models: NEST's integrate-and-fire neurons, exactly integrated on a fixed
//! time grid, held as flat populations.
//!
//! What it is for: stepping populations of point neurons with the same numbers NEST gives on the same
//! input (checked against NEST 3.10 by `tests/against_nest.rs`). Each model keeps NEST's name, parameter
//! names, units and defaults, and NEST's update order within a step. What it is not (yet) for:
//! connectivity, delays and spike delivery (the caller sums the input arriving in each step), plasticity,
//! conductance-based or nonlinear models, precise (off-grid) spike times.
//!
//! Each model is a module with four plain parts (after NEST's parameters / state / variables split):
//! - `Params`: the independent parameters, serde with NEST's names (`C_m`, `tau_m`, `V_th`, ...),
//!   `deny_unknown_fields`, NEST's defaults, and `validate()`;
//! - `Derived`: the propagators of one step, computed once by `prepare(&Params, h_ms)` (the only place
//!   that calls `exp`);
//! - `Population`: the state of `n` neurons sharing one `Params`, one `Vec` per state variable;
//! - `Population::step`: one step for every neuron, allocation-free.
//!
//! Models: [`iaf_psc_delta`] (input makes `V_m` jump), [`iaf_psc_exp`] (exponential currents),
//! [`iaf_psc_alpha`] (alpha currents). Errors: [`ParamError`].
//!
//! Timing of a step from `t` to `t + h` (NEST's): the membrane is advanced with the currents held over
//! the step; spike input given to `step` arrives at `t + h` (it moves `V_m` or the synaptic current
//! there); a current given as `i_stim` arrives at `t + h` too and drives the membrane from `t + h` on
//! (a `dc_generator` with `start`/`stop` delivers it in the steps with `start <= t < stop`); a neuron
//! whose `V_m` reaches `V_th` at `t + h` spikes at `t + h`.
//!
//! ```
//! use neuroloop_brain::iaf_psc_exp::{prepare, Params, Population};
//!
//! // 2 neurons; the second gets 400 pA of constant current (threshold current: 375 pA).
//! let p = Params::default();
//! let d = prepare(&p, 0.1).unwrap();
//! let mut pop = Population::new(2, &p);
//! let mut spiked = Vec::new();
//! let mut first_spike = None;
//! for k in 0..1000 {
//!     pop.step(&d, &[], &[], &[0.0, 400.0], &mut spiked);
//!     if first_spike.is_none() && !spiked.is_empty() {
//!         first_spike = Some((spiked[0], k + 1));
//!     }
//! }
//! // t* = -tau_m ln(1 - (V_th - E_L) / (R I)) = 27.7 ms after the current arrives at 0.1 ms.
//! assert_eq!(first_spike, Some((1, 279)));
//! assert_eq!(pop.v_m[0], -70.0);
//! ```
#![deny(missing_docs)]

mod error;
mod grid;
pub mod iaf_psc_alpha;
pub mod iaf_psc_delta;
pub mod iaf_psc_exp;
pub mod network;
mod propagator;

pub use error::{ParamError, TIC_MS};

/// The input of neuron `i` from a per-neuron slice, or 0 if the slice is empty.
#[inline(always)]
fn input_at(input: &[f64], i: usize) -> f64 {
    if input.is_empty() {
        0.0
    } else {
        input[i]
    }
}

/// Panics unless each input slice is empty or has one entry per neuron.
fn check_inputs(n: usize, ex_in: &[f64], in_in: &[f64], i_stim: &[f64]) {
    for (name, s) in [("ex_in", ex_in), ("in_in", in_in), ("i_stim", i_stim)] {
        assert!(
            s.is_empty() || s.len() == n,
            "{name} has {} entries for {n} neurons",
            s.len()
        );
    }
}
