//! `iaf_psc_delta`: leaky integrate-and-fire neuron whose synaptic input makes `V_m` jump.
//!
//! Source: Rotter & Diesmann (1999), exact integration; NEST 3.10 `iaf_psc_delta`.
//!
//! ```text
//! dV_m/dt = -(V_m - E_L)/tau_m + (I_e + I_stim)/C_m + sum_k w_k delta(t - t_k),   V_m >= V_min
//! ```
//!
//! A spike of weight `w` (mV) moves `V_m` by `w` at its arrival. A spike is emitted at the end of the
//! step in which `V_m >= V_th`; `V_m` is then clamped to `V_reset` for `t_ref` (rounded up to whole
//! steps). Input arriving while refractory is dropped, unless `refractory_input` is set: then it is added
//! when the refractory period ends, decayed by `exp(-r h/tau_m)` for the `r` steps it had left.

use serde::{Deserialize, Serialize};

use crate::error::{require, ParamError};
use crate::grid;
use crate::inputs::{check_inputs, input_at};

const MODEL: &str = "iaf_psc_delta";

/// Parameters, with NEST's names (in serde) and units. Missing fields take NEST's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Membrane capacitance `C_m`, pF (default 250).
    #[serde(rename = "C_m")]
    pub c_m: f64,
    /// Membrane time constant `tau_m`, ms (default 10).
    pub tau_m: f64,
    /// Absolute refractory period `t_ref`, ms (default 2); rounded up to whole steps.
    pub t_ref: f64,
    /// Resting potential `E_L`, mV (default -70).
    #[serde(rename = "E_L")]
    pub e_l: f64,
    /// Spike threshold `V_th`, mV (default -55).
    #[serde(rename = "V_th")]
    pub v_th: f64,
    /// Reset potential `V_reset`, mV (default -70).
    #[serde(rename = "V_reset")]
    pub v_reset: f64,
    /// Constant input current `I_e`, pA (default 0).
    #[serde(rename = "I_e")]
    pub i_e: f64,
    /// Lower bound of the membrane potential `V_min`, mV (default: none, NEST's `-DBL_MAX`).
    #[serde(rename = "V_min")]
    pub v_min: Option<f64>,
    /// Whether input arriving during the refractory period is added, decayed, when it ends
    /// (default false: it is dropped).
    pub refractory_input: bool,
}

impl Default for Params {
    /// NEST 3.10's defaults (`nest.GetDefaults("iaf_psc_delta")`).
    fn default() -> Self {
        Params {
            c_m: 250.0,
            tau_m: 10.0,
            t_ref: 2.0,
            e_l: -70.0,
            v_th: -55.0,
            v_reset: -70.0,
            i_e: 0.0,
            v_min: None,
            refractory_input: false,
        }
    }
}

impl Params {
    /// Checks NEST's constraints; the error names the first bad field.
    pub fn validate(&self) -> Result<(), ParamError> {
        let finite = [
            ("C_m", self.c_m),
            ("tau_m", self.tau_m),
            ("t_ref", self.t_ref),
            ("E_L", self.e_l),
            ("V_th", self.v_th),
            ("V_reset", self.v_reset),
            ("I_e", self.i_e),
        ];
        for (field, value) in finite {
            require(value.is_finite(), MODEL, field, value, "must be finite")?;
        }
        require(self.c_m > 0.0, MODEL, "C_m", self.c_m, "must be > 0")?;
        require(self.tau_m > 0.0, MODEL, "tau_m", self.tau_m, "must be > 0")?;
        require(
            self.t_ref >= 0.0,
            MODEL,
            "t_ref",
            self.t_ref,
            "must be >= 0",
        )?;
        require(
            self.v_reset < self.v_th,
            MODEL,
            "V_reset",
            self.v_reset,
            "must be < V_th",
        )?;
        if let Some(v_min) = self.v_min {
            require(!v_min.is_nan(), MODEL, "V_min", v_min, "must be a number")?;
            require(
                self.v_reset >= v_min,
                MODEL,
                "V_reset",
                self.v_reset,
                "must be >= V_min",
            )?;
        }
        Ok(())
    }
}

/// Values derived once from [`Params`] and the resolution by [`prepare`]: the propagators of one step.
#[derive(Clone, Debug, PartialEq)]
pub struct Derived {
    /// Resolution h, ms.
    pub h_ms: f64,
    /// `E_L`, mV.
    pub e_l: f64,
    /// Threshold relative to `E_L`, mV.
    pub theta: f64,
    /// Reset potential relative to `E_L`, mV.
    pub v_reset_rel: f64,
    /// Lower bound relative to `E_L`, mV (`-inf` if none).
    pub v_min_rel: f64,
    /// `I_e`, pA.
    pub i_e: f64,
    /// `exp(-h/tau_m)`: V to V.
    pub p33: f64,
    /// `tau_m/C_m (1 - exp(-h/tau_m))`: constant current (pA) to V (mV).
    pub p30: f64,
    /// `t_ref` in steps (NEST's `RefractoryCounts`).
    pub refractory_steps: u32,
    /// With `refractory_input`: `exp(-r h/tau_m)` for `r = 0 ..= refractory_steps` remaining refractory
    /// steps; empty otherwise.
    pub refractory_decay: Vec<f64>,
}

/// Validates `p` and computes the propagators for resolution `h_ms` (the only place that calls `exp`).
pub fn prepare(p: &Params, h_ms: f64) -> Result<Derived, ParamError> {
    p.validate()?;
    let h_tics = grid::resolution_tics(h_ms)?;
    let h = h_ms;
    let p33 = (-h / p.tau_m).exp();
    let refractory_steps = grid::steps_up(p.t_ref, h_tics);
    let refractory_decay = if p.refractory_input {
        (0..=refractory_steps)
            .map(|r| (-f64::from(r) * h / p.tau_m).exp())
            .collect()
    } else {
        Vec::new()
    };
    Ok(Derived {
        h_ms,
        e_l: p.e_l,
        theta: p.v_th - p.e_l,
        v_reset_rel: p.v_reset - p.e_l,
        v_min_rel: p.v_min.map_or(f64::NEG_INFINITY, |v| v - p.e_l),
        i_e: p.i_e,
        p33,
        p30: 1.0 / p.c_m * (1.0 - p33) * p.tau_m,
        refractory_steps,
        refractory_decay,
    })
}

/// The state of `n` neurons sharing one [`Params`], one vector per state variable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Population {
    /// Membrane potential `V_m`, mV (initially `E_L`).
    pub v_m: Vec<f64>,
    /// Stepwise constant input current latched at the end of the last step (NEST's `y0`), pA.
    pub i_stim: Vec<f64>,
    /// Remaining refractory steps.
    pub refractory: Vec<u32>,
    /// Input collected during the refractory period (with `refractory_input`), mV.
    pub refractory_input: Vec<f64>,
}

impl Population {
    /// `n` neurons at rest: `V_m = E_L`, no current, not refractory (as NEST creates them with default
    /// parameters; NEST keeps `V_m` at -70 mV when only `E_L` is changed, this starts at the new `E_L`).
    pub fn new(n: usize, p: &Params) -> Self {
        Population {
            v_m: vec![p.e_l; n],
            i_stim: vec![0.0; n],
            refractory: vec![0; n],
            refractory_input: vec![0.0; n],
        }
    }

    /// Number of neurons.
    pub fn len(&self) -> usize {
        self.v_m.len()
    }

    /// Whether the population has no neurons.
    pub fn is_empty(&self) -> bool {
        self.v_m.is_empty()
    }

    /// Advances every neuron by one step of `d.h_ms`, in NEST's order: membrane update from the current
    /// of the last step plus the spike input arriving now (skipped while refractory: the input is
    /// dropped or collected), the `V_min` bound, threshold and reset, then the input current is latched
    /// for the next step.
    ///
    /// - `ex_in`, `in_in`: summed weights (mV) of the spikes arriving in this step, per neuron; both move
    ///   `V_m` at the end of the step (NEST keeps one buffer for both signs).
    /// - `i_stim`: input current (pA, e.g. a `dc_generator`'s) arriving in this step; it drives the
    ///   membrane during the next step.
    /// - `spiked` is cleared, then receives the indices of the neurons that fired (spike time: the end
    ///   of this step).
    ///
    /// An input slice may be empty (no input); otherwise it must have one entry per neuron.
    pub fn step(
        &mut self,
        d: &Derived,
        ex_in: &[f64],
        in_in: &[f64],
        i_stim: &[f64],
        spiked: &mut Vec<u32>,
    ) {
        let n = self.len();
        check_inputs(n, ex_in, in_in, i_stim);
        spiked.clear();
        let with_refractory_input = !d.refractory_decay.is_empty();
        for i in 0..n {
            let w = input_at(ex_in, i) + input_at(in_in, i);
            let r = self.refractory[i];
            let mut v = self.v_m[i] - d.e_l;
            if r == 0 {
                v = d.p30 * (self.i_stim[i] + d.i_e) + d.p33 * v + w;
                if with_refractory_input && self.refractory_input[i] != 0.0 {
                    v += self.refractory_input[i];
                    self.refractory_input[i] = 0.0;
                }
                v = if v < d.v_min_rel { d.v_min_rel } else { v };
                self.v_m[i] = v + d.e_l;
            } else {
                if with_refractory_input {
                    self.refractory_input[i] += w * d.refractory_decay[r as usize];
                }
                self.refractory[i] = r - 1;
            }
            if v >= d.theta {
                self.refractory[i] = d.refractory_steps;
                self.v_m[i] = d.v_reset_rel + d.e_l;
                spiked.push(i as u32);
            }
            self.i_stim[i] = input_at(i_stim, i);
        }
    }
}
