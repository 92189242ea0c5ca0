//! The brain engine: NEST's neuron models, synapses and connection rules on a fixed time grid, as a
//! library and as an engine of a closed loop.
//!
//! What it is for: simulating spiking networks with the numbers NEST gives on the same input (single
//! neurons and plastic synapses checked against NEST 3.10 to the last bit or 1e-6 by `tests/`; networks
//! by their statistics), faster and with results that do not depend on the thread count. The layers,
//! from the bottom:
//! - neuron models ([`iaf_psc_delta`], [`iaf_psc_exp`], [`iaf_psc_alpha`], [`iaf_cond_exp`],
//!   [`izhikevich`], [`aeif_cond_exp`]) behind one trait, [`neurons::Neurons`];
//! - plastic synapses ([`plasticity`]: `stdp_synapse`, `stdp_dopamine_synapse` with its volume
//!   transmitter);
//! - networks ([`network`]): a description (file or builder), connection rules, devices, threads,
//!   checkpoints; Brunel (2000) and Potjans & Diesmann (2014) as examples;
//! - the engine ([`engine`]): a network with spike ports and a reward port, `kind = "brain"`.
//!
//! Not (yet) for: precise (off-grid) spike times, MPI, gap junctions, models beyond these six.
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
//! [`iaf_psc_alpha`] (alpha currents), [`iaf_cond_exp`] (exponential conductances), [`izhikevich`]
//! (Izhikevich 2003), [`aeif_cond_exp`] (AdEx, exponential conductances); the conductance models use
//! GSL's adaptive RKF45 as NEST does ([`rkf45`]). [`neurons`] puts them behind one trait
//! ([`neurons::Neurons`]) with a factory by name. Errors: [`ParamError`].
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

pub mod aeif_cond_exp;
pub mod engine;
mod error;
mod grid;
pub mod iaf_cond_exp;
pub mod iaf_psc_alpha;
pub mod iaf_psc_delta;
pub mod iaf_psc_exp;
mod inputs;
pub mod izhikevich;
pub mod network;
pub mod neurons;
pub mod plasticity;
mod propagator;
pub mod rkf45;

pub use error::{ParamError, TIC_MS};
